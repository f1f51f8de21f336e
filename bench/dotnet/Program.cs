// Akka.Persistence benchmark: the same persistent actors and events against
// Cairn embedded (libcairn-c, mmaplog), Cairn remote (a cairnd on loopback,
// mmaplog), Akka.Persistence.Sql on SQLite (Microsoft.Data.Sqlite) and on
// PostgreSQL (Npgsql; the server is given by --postgres, bench/dotnet/run.sh
// starts one), and Akka's own in-memory journal (the ceiling for this actor
// code: no storage at all).
//
//   dotnet CairnBench.dll [--events N] [--actors 1,100] [--events-many N]
//                         [--stores cairn-embedded,cairn-remote,sql-sqlite,sql-postgres,inmem]
//                         [--workloads persist,persistasync,persistall,recovery]
//                         [--cap SECONDS] [--repeats 3] [--recoveries 5] [--postgres CONNECTION-STRING]
//                         [--fsync always] [--write-lanes 32] [--cairnd PATH] [--work DIR]
//
// Workloads per store and actor count: Persist (one command, one event,
// wait for it), PersistAsync (every command persists without waiting),
// PersistAll (commands of 100 events each), each --events events per actor
// (--events-many for more than one actor, default the same); then recovery of
// one actor's --events events, --recoveries times. A write cell that takes
// under 10 s is run up to --repeats times; a row gives the median run and the
// best rate (the machine may be shared). --cap bounds a cell's
// time: a cell still running then is stopped and reported with the events
// persisted so far, marked "capped". Prints one Markdown table row per
// measurement.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Cairn;

var options = Options.Parse(args);
Directory.CreateDirectory(options.Work);
Console.WriteLine($"# Akka.Persistence benchmark ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}, load {Load()})");
Console.WriteLine();
Console.WriteLine("| store | workload | actors | events | seconds | events/s (median) | best | runs | load |");
Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---|");
foreach (var store in options.Stores)
{
    using var target = await Target.StartAsync(store, options);
    // Warm-up (not reported): JIT, journal start, storage files, and one
    // short recovery so the read path is compiled too.
    await RunWrites(target, Workload.PersistAsync, 4, 500, TimeSpan.Zero);
    if (options.Workloads.Contains("recovery")) await RunRecovery(target, 500);
    foreach (int actors in options.Actors)
    {
        int perActor = actors == 1 ? options.Events : options.EventsMany;
        foreach (var workload in new[] { Workload.Persist, Workload.PersistAsync, Workload.PersistAll })
        {
            if (!options.Workloads.Contains(workload.ToString().ToLowerInvariant())) continue;
            // A short cell is run --repeats times (the machine is shared, so
            // one run can land in someone else's build); a long one once.
            var runs = new List<(long events, double seconds, bool capped)>();
            do
            {
                runs.Add(await RunWrites(target, workload, actors, perActor, options.Cap));
            } while (runs.Count < options.Repeats && !runs.Any(r => r.capped) && runs.Sum(r => r.seconds) < 10);
            bool capped = runs.Any(r => r.capped);
            Report(store, workload + (capped ? $" (capped at {options.Cap.TotalSeconds:0} s)" : ""), actors,
                runs.Select(r => (r.events, r.seconds)).ToList());
        }
    }
    if (!options.Workloads.Contains("recovery")) continue;
    var recoveries = new List<(long events, double seconds)>();
    for (int i = 0; i < options.Recoveries; i++) recoveries.Add(await RunRecovery(target, options.Events));
    Report(store, "Recovery", 1, recoveries);
}
return 0;

static string Load() =>
    File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

// One row: the median run's events, seconds and rate, the best rate, and how many runs.
static void Report(string store, string workload, int actors, List<(long events, double seconds)> runs)
{
    var byRate = runs.OrderBy(r => r.events / r.seconds).ToList();
    var median = byRate[(byRate.Count - 1) / 2]; // of two runs, the slower
    var best = byRate[^1];
    Console.WriteLine($"| {store} | {workload} | {actors} | {median.events:N0} | {median.seconds:F2} | " +
                      $"{median.events / median.seconds:N0} | {best.events / best.seconds:N0} | {runs.Count} | {Load()} |");
}

static async Task<(long events, double seconds, bool capped)> RunWrites(Target target, Workload workload,
    int actors, int perActor, TimeSpan cap)
{
    var system = ActorSystem.Create("bench", target.Config);
    try
    {
        string run = Guid.NewGuid().ToString("N")[..8];
        var persisted = new BenchActor.Counter();
        var refs = Enumerable.Range(0, actors)
            .Select(i => system.ActorOf(Props.Create(() => new BenchActor($"{workload}-{run}-{i}", persisted))))
            .ToList();
        // Recovery (empty) first, outside the clock.
        await Task.WhenAll(refs.Select(r => r.Ask<long>(BenchActor.Ping.Instance, TimeSpan.FromMinutes(1))));
        var clock = Stopwatch.StartNew();
        var all = Task.WhenAll(refs.Select(r =>
            r.Ask<long>(new BenchActor.Run(workload, perActor), TimeSpan.FromHours(4))));
        if (cap > TimeSpan.Zero && await Task.WhenAny(all, Task.Delay(cap)) != all)
        {
            long done = Interlocked.Read(ref persisted.Events);
            double seconds = clock.Elapsed.TotalSeconds;
            _ = all.ContinueWith(_ => { }, TaskContinuationOptions.OnlyOnFaulted);
            return (done, seconds, true);
        }
        await all;
        clock.Stop();
        return ((long)actors * perActor, clock.Elapsed.TotalSeconds, false);
    }
    finally
    {
        await system.Terminate();
        system.Dispose();
    }
}

static async Task<(long events, double seconds)> RunRecovery(Target target, int events)
{
    string pid = "recovery-" + Guid.NewGuid().ToString("N")[..8];
    var writing = ActorSystem.Create("bench", target.Config);
    var writer = writing.ActorOf(Props.Create(() => new BenchActor(pid, new BenchActor.Counter())));
    await writer.Ask<long>(new BenchActor.Run(Workload.PersistAll, events), TimeSpan.FromHours(1));
    // The in-memory journal lives only as long as its actor system, so its
    // recovery runs in the writer's system; the others recover in a fresh one.
    ActorSystem system = writing;
    if (!target.InMemory)
    {
        await writing.Terminate();
        writing.Dispose();
        system = ActorSystem.Create("bench", target.Config);
    }
    else
    {
        await writer.GracefulStop(TimeSpan.FromMinutes(1));
    }
    try
    {
        // Start the journal (open the store) before the clock.
        await system.ActorOf(Props.Create(() => new BenchActor("warm-" + pid, new BenchActor.Counter())))
            .Ask<long>(BenchActor.Ping.Instance, TimeSpan.FromMinutes(1));
        var clock = Stopwatch.StartNew();
        var reader = system.ActorOf(Props.Create(() => new BenchActor(pid, new BenchActor.Counter())));
        long recovered = await reader.Ask<long>(BenchActor.Ping.Instance, TimeSpan.FromHours(1));
        clock.Stop();
        if (recovered != events) throw new InvalidOperationException($"recovered {recovered} of {events} events");
        return (events, clock.Elapsed.TotalSeconds);
    }
    finally
    {
        await system.Terminate();
        system.Dispose();
    }
}

internal enum Workload
{
    Persist,
    PersistAsync,
    PersistAll,
}

/// <summary>Persists string events; replies to Run when its last event is
/// persisted and to Ping (after recovery) with the events it has seen.</summary>
internal sealed class BenchActor : ReceivePersistentActor
{
    public sealed record Run(Workload Workload, int Events);
    public sealed record One(bool Async, bool Last);
    public sealed class Ping
    {
        public static readonly Ping Instance = new();
    }

    /// <summary>Events persisted by every actor of a run, read when a cell is capped.</summary>
    public sealed class Counter
    {
        public long Events;
    }

    private long _count;
    private IActorRef? _waiter;

    public BenchActor(string id, Counter persisted)
    {
        PersistenceId = id;
        Recover<string>(_ => _count++);
        Command<Ping>(_ => Sender.Tell(_count));
        Command<Run>(run =>
        {
            _waiter = Sender;
            switch (run.Workload)
            {
                case Workload.Persist:
                case Workload.PersistAsync:
                    for (int i = 0; i < run.Events; i++)
                        Self.Tell(new One(run.Workload == Workload.PersistAsync, i == run.Events - 1));
                    break;
                case Workload.PersistAll:
                    for (int start = 0; start < run.Events; start += 100)
                    {
                        int n = Math.Min(100, run.Events - start);
                        bool last = start + n == run.Events;
                        int seen = 0;
                        PersistAll(Enumerable.Range(start, n).Select(i => $"event-{i}"), _ =>
                        {
                            _count++;
                            Interlocked.Increment(ref persisted.Events);
                            if (last && ++seen == n) _waiter!.Tell(_count);
                        });
                    }
                    break;
            }
        });
        Command<One>(one =>
        {
            void Handler(string _)
            {
                _count++;
                Interlocked.Increment(ref persisted.Events);
                if (one.Last) _waiter!.Tell(_count);
            }
            string evt = $"event-{_count}";
            if (one.Async) PersistAsync(evt, Handler);
            else Persist(evt, Handler);
        });
    }

    public override string PersistenceId { get; }
}

internal sealed class Options
{
    public int Events = 10_000;
    public int? EventsManyGiven;
    public int EventsMany => EventsManyGiven ?? Events;
    public int[] Actors = { 1, 100 };
    public string[] Stores = { "cairn-embedded", "cairn-remote", "sql-sqlite", "sql-postgres", "inmem" };
    public string[] Workloads = { "persist", "persistasync", "persistall", "recovery" };
    public TimeSpan Cap = TimeSpan.Zero;
    public int Recoveries = 5;
    public int Repeats = 3;
    public string? Postgres = Environment.GetEnvironmentVariable("CAIRN_BENCH_POSTGRES");
    public string Fsync = "always";
    public int WriteLanes = 32;
    public string? Cairnd = Environment.GetEnvironmentVariable("CAIRN_CAIRND");
    public string Work = Path.Combine(Path.GetTempPath(), "cairn-dotnet-bench");

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--events": o.Events = int.Parse(Next()); break;
                case "--events-many": o.EventsManyGiven = int.Parse(Next()); break;
                case "--workloads": o.Workloads = Next().ToLowerInvariant().Split(','); break;
                case "--cap": o.Cap = TimeSpan.FromSeconds(double.Parse(Next())); break;
                case "--recoveries": o.Recoveries = int.Parse(Next()); break;
                case "--repeats": o.Repeats = int.Parse(Next()); break;
                case "--postgres": o.Postgres = Next(); break;
                case "--actors": o.Actors = Next().Split(',').Select(int.Parse).ToArray(); break;
                case "--stores": o.Stores = Next().Split(','); break;
                case "--fsync": o.Fsync = Next(); break;
                case "--write-lanes": o.WriteLanes = int.Parse(Next()); break;
                case "--cairnd": o.Cairnd = Next(); break;
                case "--work": o.Work = Next(); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        return o;
    }
}

/// <summary>One store under test: its Akka config, and a cairnd process for remote.</summary>
internal sealed class Target : IDisposable
{
    private Process? _server;

    private Target(Config config) => Config = config;

    public Config Config { get; }

    /// <summary>Akka's in-memory journal: its events live as long as the actor system.</summary>
    public bool InMemory { get; private init; }

    public static async Task<Target> StartAsync(string store, Options options)
    {
        var target = await CreateAsync(store, options);
        target._work = options.Work;
        target._store = store;
        return target;
    }

    private static async Task<Target> CreateAsync(string store, Options options)
    {
        string dir = Path.Combine(options.Work, store + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        string common = @"
akka.loglevel = WARNING
akka.persistence.journal.plugin = ""akka.persistence.journal.cairn""
akka.persistence.snapshot-store.plugin = ""akka.persistence.snapshot-store.cairn""
akka.persistence.journal.cairn.write-lanes = " + options.WriteLanes + @"
";
        switch (store)
        {
            case "cairn-embedded":
                return new Target(ConfigurationFactory.ParseString(common + $@"
akka.persistence.journal.cairn {{
  path = ""{dir}""
  storage-plugin = mmaplog
  overrides = [""storage.fsync={options.Fsync}""]
}}
").WithFallback(CairnPersistence.DefaultConfiguration()));
            case "cairn-remote":
            {
                string cairnd = options.Cairnd ?? throw new ArgumentException("cairn-remote needs --cairnd or CAIRN_CAIRND");
                int port = FreePort();
                var start = new ProcessStartInfo(cairnd) { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in new[] { "--data", dir, "--storage", "mmaplog", "--set", "storage.fsync=" + options.Fsync,
                             "--listen", "127.0.0.1", "--port", port.ToString(), "--http-port", "off",
                             "--log-level", "warn" })
                    start.ArgumentList.Add(a);
                var server = Process.Start(start)!;
                server.OutputDataReceived += (_, _) => { };
                server.ErrorDataReceived += (_, _) => { };
                server.BeginOutputReadLine();
                server.BeginErrorReadLine();
                for (int tries = 0; ; tries++)
                {
                    try
                    {
                        using var probe = new TcpClient();
                        await probe.ConnectAsync(IPAddress.Loopback, port);
                        break;
                    }
                    catch (SocketException) when (tries < 200 && !server.HasExited)
                    {
                        await Task.Delay(50);
                    }
                }
                return new Target(ConfigurationFactory.ParseString(common + $@"
akka.persistence.journal.cairn {{
  mode = remote
  remote {{ host = ""127.0.0.1"", port = {port} }}
}}
").WithFallback(CairnPersistence.DefaultConfiguration())) { _server = server };
            }
            case "sql-sqlite":
            {
                string db = Path.Combine(dir, "akka.db");
                string cs = $"Data Source={db}";
                return SqlTarget(cs, "SQLite.MS");
            }
            case "sql-postgres":
            {
                // One database per run, so runs do not see each other's rows.
                string server = options.Postgres ?? throw new ArgumentException(
                    "sql-postgres needs --postgres CONNECTION-STRING (bench/dotnet/run.sh starts a server)");
                string database = "akka_" + Guid.NewGuid().ToString("N")[..8];
                await using (var admin = new Npgsql.NpgsqlConnection(server))
                {
                    await admin.OpenAsync();
                    await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE {database}", admin);
                    await create.ExecuteNonQueryAsync();
                }
                string cs = new Npgsql.NpgsqlConnectionStringBuilder(server) { Database = database }.ConnectionString;
                return SqlTarget(cs, "PostgreSQL.15");
            }
            case "inmem":
                return new Target(ConfigurationFactory.ParseString(@"
akka.loglevel = WARNING
akka.persistence.journal.plugin = ""akka.persistence.journal.inmem""
akka.persistence.snapshot-store.plugin = ""akka.persistence.snapshot-store.local""
akka.persistence.snapshot-store.local.dir = """ + dir + @"""
")) { InMemory = true };
            default:
                throw new ArgumentException(
                    $"unknown store {store}: use cairn-embedded, cairn-remote, sql-sqlite, sql-postgres or inmem");
        }
    }

    /// <summary>Akka.Persistence.Sql's journal and snapshot store on one database.</summary>
    private static Target SqlTarget(string connectionString, string provider)
    {
        string section = $@"{{
  connection-string = ""{connectionString}""
  provider-name = ""{provider}""
  auto-initialize = true
}}";
        return new Target(ConfigurationFactory.ParseString($@"
akka.loglevel = WARNING
akka.persistence.journal.plugin = ""akka.persistence.journal.sql""
akka.persistence.snapshot-store.plugin = ""akka.persistence.snapshot-store.sql""
akka.persistence.journal.sql {section}
akka.persistence.snapshot-store.sql {section}
").WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration));
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public void Dispose()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill(true);
            _server.WaitForExit(10000);
        }
        // Each store's folder (mmaplog preallocates its segments) goes too.
        foreach (var dir in Directory.GetDirectories(_work, _store + "-*"))
        {
            try
            {
                Directory.Delete(dir, true);
            }
            catch (IOException)
            {
            }
        }
    }

    private string _work = "";
    private string _store = "";
}
