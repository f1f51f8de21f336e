// Usage: RestartProbe <store-folder> <storage-plugin> <add-count>
// Starts an actor system persisting into an embedded Cairn store at
// <store-folder>, recovers a counter, adds 1 <add-count> times (persisting
// each), snapshots at every 4th event, and prints
// "recovered=<total> snapshot=<seq> replayed=<n> final=<total>".
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Cairn;

if (args.Length != 3 || !int.TryParse(args[2], out int adds))
{
    Console.Error.WriteLine("usage: RestartProbe <store-folder> <storage-plugin> <add-count>");
    return 2;
}

var config = ConfigurationFactory.ParseString($@"
akka.loglevel = WARNING
akka.persistence.journal.plugin = ""akka.persistence.journal.cairn""
akka.persistence.snapshot-store.plugin = ""akka.persistence.snapshot-store.cairn""
akka.persistence.journal.cairn {{
  mode = embedded
  path = ""{args[0]}""
  storage-plugin = ""{args[1]}""
}}").WithFallback(CairnPersistence.DefaultConfiguration());

using var system = ActorSystem.Create("restart-probe", config);
var counter = system.ActorOf(Props.Create(() => new Counter("restart-probe-counter")));
var recovered = await counter.Ask<string>("get", TimeSpan.FromSeconds(30));
for (int i = 0; i < adds; i++) await counter.Ask<long>("add", TimeSpan.FromSeconds(30));
var final = await counter.Ask<string>("get", TimeSpan.FromSeconds(30));
Console.WriteLine($"{recovered} final={final.Split(' ')[0].Split('=')[1]}");
await system.Terminate();
return 0;

internal sealed class Counter : ReceivePersistentActor
{
    private int _total;
    private long _snapshotAt;
    private int _replayed;

    public Counter(string id)
    {
        PersistenceId = id;
        Recover<SnapshotOffer>(o =>
        {
            _total = (int)(long)o.Snapshot;
            _snapshotAt = o.Metadata.SequenceNr;
        });
        Recover<long>(_ =>
        {
            _total++;
            _replayed++;
        });
        Command<string>(c => c == "get", _ =>
            Sender.Tell($"recovered={_total} snapshot={_snapshotAt} replayed={_replayed}"));
        Command<string>(c => c == "add", _ => Persist(1L, _ =>
        {
            _total++;
            if (LastSequenceNr % 4 == 0) SaveSnapshot((long)_total);
            Sender.Tell(LastSequenceNr);
        }));
        Command<SaveSnapshotSuccess>(_ => { });
    }

    public override string PersistenceId { get; }
}
