using Akka.Actor;
using Akka.Persistence.Journal;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>A persistent counter: "add N" persists Added(N) (tagged "counter"
/// when asked), snapshots every <c>snapshotEvery</c> events, "get" answers
/// the total and how it recovered.</summary>
public sealed class CounterActor : ReceivePersistentActor
{
    public sealed record Add(int Amount, bool Async = false);
    public sealed record AddMany(int Count);
    public sealed record Added(int Amount);
    public sealed record State(int Total, long LastSequenceNr, long RecoveredFromSnapshotAt, int EventsReplayed);
    public sealed class Get
    {
        public static readonly Get Instance = new();
    }

    private int _total;
    private long _snapshotAt;
    private int _replayed;

    public CounterActor(string persistenceId, int snapshotEvery, string? tag)
    {
        PersistenceId = persistenceId;
        Recover<SnapshotOffer>(offer =>
        {
            _total = (int)offer.Snapshot;
            _snapshotAt = offer.Metadata.SequenceNr;
        });
        Recover<Added>(e =>
        {
            _total += e.Amount;
            _replayed++;
        });
        Command<Add>(cmd =>
        {
            object evt = tag == null ? new Added(cmd.Amount) : new Tagged(new Added(cmd.Amount), new[] { tag });
            void Apply(object _)
            {
                _total += cmd.Amount;
                if (snapshotEvery > 0 && LastSequenceNr % snapshotEvery == 0) SaveSnapshot(_total);
                Sender.Tell(LastSequenceNr);
            }
            if (cmd.Async) PersistAsync(evt, Apply);
            else Persist(evt, Apply);
        });
        Command<AddMany>(cmd =>
        {
            var events = Enumerable.Range(0, cmd.Count).Select(_ => (object)new Added(1)).ToList();
            int done = 0;
            PersistAll(events, _ =>
            {
                _total += 1;
                if (++done == cmd.Count) Sender.Tell(LastSequenceNr);
            });
        });
        Command<Get>(_ => Sender.Tell(new State(_total, LastSequenceNr, _snapshotAt, _replayed)));
        Command<SaveSnapshotSuccess>(_ => { });
    }

    public override string PersistenceId { get; }

    public static Props Props(string persistenceId, int snapshotEvery = 0, string? tag = null) =>
        Akka.Actor.Props.Create(() => new CounterActor(persistenceId, snapshotEvery, tag));
}
