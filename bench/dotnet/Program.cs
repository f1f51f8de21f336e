// Akka.Persistence benchmark: the same persistent actors and events against
// Cairn embedded (libcairn-c) and remote (a cairnd on loopback), each on
// mmaplog (fsync=always) or on memory storage, Akka.Persistence.Sql on SQLite
// as it ships (rollback journal) and in WAL mode, and on PostgreSQL (Npgsql;
// the server is given by --postgres, bench/dotnet/run.sh starts one), Akka's
// own in-memory journal (no serialization, no storage), and a serialize-only
// reference journal (Akka's serializer for each event, the bytes kept in a
// list: the ceiling for a journal that must serialize).
//
//   dotnet CairnBench.dll [--stores cairn-embedded,cairn-remote,...] [--actors 1,100]
//                         [--workloads persist,persistasync,persistall,recovery]
//                         [--window SECONDS] [--warmup SECONDS] [--runs N]
//                         [--recovery-events N] [--cap SECONDS] [--tsv FILE]
//                         [--postgres CONNECTION-STRING] [--fsync always]
//                         [--write-lanes 32] [--cairnd PATH] [--work DIR]
//   dotnet CairnBench.dll --pivot FILE [--ratio A/B ...]
//
// Workloads per store and actor count: Persist (one command, one event,
// wait for it), PersistAsync (every command persists without waiting),
// PersistAll (commands of 100 events each); Recovery (a fresh actor system
// and actor replaying one actor's --recovery-events events; in the writer's
// system for inmem and cairn-embedded-memory, whose events die with it).
//
// Fair by construction:
// - Equal warm-up: before each cell, every store runs that cell's workload
//   for --warmup seconds (growing runs; the last one's rate sizes the cell).
//   Time, not a count, so a fast journal is not measured colder than a slow one.
// - Long windows: a run is sized to last --window seconds (default 1); a run
//   that ends sooner is only kept if it persisted 100,000 events or more,
//   else it is run again larger (at most 3 times).
// - Several runs: each cell runs --runs times (default 5); a row gives the
//   median rate and the spread (slowest and fastest run).
// - Each store runs in its own process (run.sh), so no store runs on code an
//   earlier store compiled to the JIT's optimised tier.
// --cap bounds one run's time: a run still going then reports the events
// persisted so far and the cell is marked capped. Prints one Markdown row per
// cell; --tsv also appends them to FILE, which --pivot prints side by side.
using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Cairn;
using Akka.Persistence.Journal;

Options options;
try
{
    options = Options.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
{
    // A bad command line: say what was wrong, not a stack trace.
    Console.Error.WriteLine($"CairnBench: {e.Message}");
    Console.Error.WriteLine("options: --stores S,... --workloads W,... --actors N,... --runs N --warmup S --window S --cap S " +
                            "--recovery-events N --fsync MODE --write-lanes N --cairnd PATH --work DIR --postgres CONN " +
                            "--tsv FILE --pivot FILE --ratio A/B (docs/benchmarks.md, \"Akka.Persistence.Cairn (.NET)\")");
    return 2;
}
if (options.Pivot != null)
{
    Pivot.Print(options.Pivot, options.Ratios);
    return 0;
}
Directory.CreateDirectory(options.Work);
Console.WriteLine($"# Akka.Persistence benchmark ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version}, load {Load()})");
Console.WriteLine();
Console.WriteLine("| store | workload | actors | events/run | s/run | events/s (median) | slowest | fastest | runs | load |");
Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
foreach (var store in options.Stores)
{
    using var target = await Target.StartAsync(store, options);
    foreach (int actors in options.Actors)
    {
        foreach (var workload in new[] { Workload.Persist, Workload.PersistAsync, Workload.PersistAll })
        {
            if (!options.Workloads.Contains(workload.ToString().ToLowerInvariant())) continue;
            var (runs, capped) = await MeasureWrites(target, workload, actors, options);
            Report(options, store, workload + (capped ? " (capped)" : ""), actors, runs);
        }
    }
    if (options.Workloads.Contains("recovery"))
        Report(options, store, "Recovery", 1, await MeasureRecovery(target, options));
}
return 0;

static string Load() =>
    File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

// One row: the median run's events, seconds and rate, the slowest and fastest rate, how many runs.
static void Report(Options options, string store, string workload, int actors,
    List<(long events, double seconds)> runs)
{
    var byRate = runs.OrderBy(r => r.events / r.seconds).ToList();
    var median = byRate[byRate.Count / 2];
    double rate = Median(byRate.Select(r => r.events / r.seconds).ToList());
    double slowest = byRate[0].events / byRate[0].seconds, fastest = byRate[^1].events / byRate[^1].seconds;
    Console.WriteLine($"| {store} | {workload} | {actors} | {median.events:N0} | {median.seconds:F2} | " +
                      $"{rate:N0} | {slowest:N0} | {fastest:N0} | {runs.Count} | {Load()} |");
    if (options.Tsv != null)
        File.AppendAllText(options.Tsv, string.Join('\t', store, workload, actors,
            rate.ToString("F0", CultureInfo.InvariantCulture), slowest.ToString("F0", CultureInfo.InvariantCulture),
            fastest.ToString("F0", CultureInfo.InvariantCulture), runs.Count, Load()) + "\n");
}

static double Median(List<double> sorted) =>
    sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

// Warm-up, then --runs runs of at least --window seconds or 100,000 events each.
static async Task<(List<(long events, double seconds)> runs, bool capped)> MeasureWrites(Target target,
    Workload workload, int actors, Options options)
{
    int unit = workload == Workload.PersistAll ? 100 : 1;
    long events = Math.Max(1000, (long)actors * unit);
    double rate = 0;
    var warm = Stopwatch.StartNew();
    do
    {
        var w = await RunWrites(target, workload, actors, PerActor(events, actors, unit),
            options.Warmup - warm.Elapsed + TimeSpan.FromSeconds(1));
        rate = w.events / w.seconds;
        // Grow toward runs of a quarter of the warm-up.
        events = Math.Max(events, (long)(rate * options.Warmup.TotalSeconds / 4));
    } while (warm.Elapsed < options.Warmup);

    var runs = new List<(long events, double seconds)>();
    bool capped = false;
    for (int tries = 0; runs.Count < options.Runs && tries < options.Runs + 3; tries++)
    {
        long size = Math.Max(events, (long)Math.Ceiling(rate * options.Window.TotalSeconds * 1.25));
        var r = await RunWrites(target, workload, actors, PerActor(size, actors, unit), options.Cap);
        rate = r.events / r.seconds;
        capped |= r.capped;
        if (r.seconds >= options.Window.TotalSeconds || r.events >= 100_000 || r.capped)
            runs.Add((r.events, r.seconds));
    }
    if (runs.Count == 0) throw new InvalidOperationException($"{workload} x {actors}: no run was long enough");
    return (runs, capped);
}

static int PerActor(long events, int actors, int unit)
{
    long per = (events + actors - 1) / actors;
    return (int)Math.Min(int.MaxValue, (per + unit - 1) / unit * unit);
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

// Warm-up (recoveries of a short stream for --warmup seconds), then --runs
// recoveries of one stream of --recovery-events events, each in a fresh
// actor system with the journal started before the clock.
static async Task<List<(long events, double seconds)>> MeasureRecovery(Target target, Options options)
{
    // A journal whose events live only as long as its actor system (Akka's
    // in-memory journal, Cairn embedded on memory storage) writes and
    // recovers in one system; the others recover in fresh ones.
    ActorSystem? shared = target.InMemory ? ActorSystem.Create("bench", target.Config) : null;
    try
    {
        string warmPid = await WriteStream(target, shared, 10_000);
        var warm = Stopwatch.StartNew();
        do await Recover(target, shared, warmPid, 10_000);
        while (warm.Elapsed < options.Warmup);
        string pid = await WriteStream(target, shared, options.RecoveryEvents);
        var runs = new List<(long events, double seconds)>();
        for (int i = 0; i < options.Runs; i++)
            runs.Add((options.RecoveryEvents, await Recover(target, shared, pid, options.RecoveryEvents)));
        return runs;
    }
    finally
    {
        if (shared != null)
        {
            await shared.Terminate();
            shared.Dispose();
        }
    }
}

static async Task<string> WriteStream(Target target, ActorSystem? shared, int events)
{
    string pid = "recovery-" + Guid.NewGuid().ToString("N")[..8];
    var system = shared ?? ActorSystem.Create("bench", target.Config);
    var writer = system.ActorOf(Props.Create(() => new BenchActor(pid, new BenchActor.Counter())));
    await writer.Ask<long>(new BenchActor.Run(Workload.PersistAll, events), TimeSpan.FromHours(1));
    await writer.GracefulStop(TimeSpan.FromMinutes(1));
    if (shared == null)
    {
        await system.Terminate();
        system.Dispose();
    }
    return pid;
}

static async Task<double> Recover(Target target, ActorSystem? shared, string pid, int events)
{
    var system = shared ?? ActorSystem.Create("bench", target.Config);
    try
    {
        // Start the journal (open the store) before the clock.
        string warmPid = "warm-" + Guid.NewGuid().ToString("N")[..8];
        var warm = system.ActorOf(Props.Create(() => new BenchActor(warmPid, new BenchActor.Counter())));
        await warm.Ask<long>(BenchActor.Ping.Instance, TimeSpan.FromMinutes(1));
        await warm.GracefulStop(TimeSpan.FromMinutes(1));
        var clock = Stopwatch.StartNew();
        var reader = system.ActorOf(Props.Create(() => new BenchActor(pid, new BenchActor.Counter())));
        long recovered = await reader.Ask<long>(BenchActor.Ping.Instance, TimeSpan.FromHours(1));
        clock.Stop();
        await reader.GracefulStop(TimeSpan.FromMinutes(1));
        if (recovered != events) throw new InvalidOperationException($"recovered {recovered} of {events} events");
        return clock.Elapsed.TotalSeconds;
    }
    finally
    {
        if (shared == null)
        {
            await system.Terminate();
            system.Dispose();
        }
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
    public int[] Actors = { 1, 100 };
    public string[] Stores =
    {
        "cairn-embedded", "cairn-remote", "cairn-embedded-memory", "cairn-remote-memory", "sql-sqlite",
        "sql-sqlite-wal", "sql-postgres", "inmem", "serialize-only",
    };
    public string[] Workloads = { "persist", "persistasync", "persistall", "recovery" };
    public TimeSpan Window = TimeSpan.FromSeconds(1);
    public TimeSpan Warmup = TimeSpan.FromSeconds(2);
    public TimeSpan Cap = TimeSpan.FromSeconds(30);
    public int Runs = 5;
    public int RecoveryEvents = 100_000;
    public string? Tsv;
    public string? Pivot;
    public List<string> Ratios = new();
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
            double Seconds() => double.Parse(Next(), CultureInfo.InvariantCulture);
            string option = args[i];
            try
            {
                switch (args[i])
                {
                    case "--workloads": o.Workloads = Next().ToLowerInvariant().Split(','); break;
                    case "--window": o.Window = TimeSpan.FromSeconds(Seconds()); break;
                    case "--warmup": o.Warmup = TimeSpan.FromSeconds(Seconds()); break;
                    case "--cap": o.Cap = TimeSpan.FromSeconds(Seconds()); break;
                    case "--runs": o.Runs = int.Parse(Next()); break;
                    case "--recovery-events": o.RecoveryEvents = int.Parse(Next()); break;
                    case "--tsv": o.Tsv = Next(); break;
                    case "--pivot": o.Pivot = Next(); break;
                    case "--ratio": o.Ratios.Add(Next()); break;
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
            catch (Exception e) when (e is FormatException or OverflowException)
            {
                throw new ArgumentException($"{option}: '{args[i]}' is not the number (or list of numbers) it takes");
            }
        }
        if (o.Runs < 1) throw new ArgumentException("--runs must be at least 1");
        return o;
    }
}

/// <summary>One store under test: its Akka config, and a cairnd process for remote.</summary>
internal sealed class Target : IDisposable
{
    private Process? _server;
    private string _dir = "";

    private Target(Config config) => Config = config;

    public Config Config { get; }

    /// <summary>Events live only as long as the actor system: Akka's in-memory
    /// journal, and Cairn embedded on memory storage (the store closes with
    /// the last journal using it).</summary>
    public bool InMemory { get; private init; }

    public static async Task<Target> StartAsync(string store, Options options)
    {
        string dir = Path.Combine(options.Work, store + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var target = await CreateAsync(store, options, dir);
        target._dir = dir;
        return target;
    }

    private static async Task<Target> CreateAsync(string store, Options options, string dir)
    {
        string common = @"
akka.loglevel = WARNING
akka.persistence.journal.plugin = ""akka.persistence.journal.cairn""
akka.persistence.snapshot-store.plugin = ""akka.persistence.snapshot-store.cairn""
akka.persistence.journal.cairn.write-lanes = " + options.WriteLanes + @"
";
        switch (store)
        {
            case "cairn-embedded":
            case "cairn-embedded-memory":
            {
                string storage = store.EndsWith("-memory") ? "memory" : "mmaplog";
                string overrides = storage == "mmaplog" ? $@"[""storage.fsync={options.Fsync}""]" : "[]";
                return new Target(ConfigurationFactory.ParseString(common + $@"
akka.persistence.journal.cairn {{
  path = ""{dir}""
  storage-plugin = {storage}
  overrides = {overrides}
}}
").WithFallback(CairnPersistence.DefaultConfiguration())) { InMemory = storage == "memory" };
            }
            case "cairn-remote":
            case "cairn-remote-memory":
            {
                string storage = store.EndsWith("-memory") ? "memory" : "mmaplog";
                string cairnd = options.Cairnd ?? throw new ArgumentException($"{store} needs --cairnd or CAIRN_CAIRND");
                int port = FreePort();
                var start = new ProcessStartInfo(cairnd) { RedirectStandardOutput = true, RedirectStandardError = true };
                var arguments = new List<string> { "--data", dir, "--storage", storage };
                if (storage == "mmaplog") arguments.AddRange(new[] { "--set", "storage.fsync=" + options.Fsync });
                arguments.AddRange(new[] { "--listen", "127.0.0.1", "--port", port.ToString(), "--http-port", "off",
                    "--log-level", "warn" });
                foreach (var a in arguments) start.ArgumentList.Add(a);
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
            case "sql-sqlite-wal":
            {
                string db = Path.Combine(dir, "akka.db");
                string cs = $"Data Source={db}";
                if (store == "sql-sqlite-wal")
                {
                    // WAL is a property of the database file: set once, every
                    // later connection (Akka.Persistence.Sql's) uses it.
                    // synchronous stays FULL (as shipped): a commit is durable.
                    await using var connection = new Microsoft.Data.Sqlite.SqliteConnection(cs);
                    await connection.OpenAsync();
                    await using var pragma = connection.CreateCommand();
                    pragma.CommandText = "PRAGMA journal_mode=WAL;";
                    string mode = (string)(await pragma.ExecuteScalarAsync())!;
                    if (mode != "wal") throw new InvalidOperationException($"{db}: journal_mode is {mode}, not wal");
                }
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
            case "serialize-only":
                return new Target(ConfigurationFactory.ParseString(@"
akka.loglevel = WARNING
akka.persistence.journal.plugin = ""akka.persistence.journal.serialize-only""
akka.persistence.journal.serialize-only {
  class = """ + typeof(SerializeOnlyJournal).AssemblyQualifiedName + @"""
  plugin-dispatcher = ""akka.actor.default-dispatcher""
}
akka.persistence.snapshot-store.plugin = ""akka.persistence.snapshot-store.local""
akka.persistence.snapshot-store.local.dir = """ + dir + @"""
"));
            default:
                throw new ArgumentException(
                    $"unknown store {store}: use cairn-embedded, cairn-remote, cairn-embedded-memory, " +
                    "cairn-remote-memory, sql-sqlite, sql-sqlite-wal, sql-postgres, inmem or serialize-only");
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
        // The store's folder (mmaplog preallocates its segments) goes too.
        try
        {
            Directory.Delete(_dir, true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>The honest ceiling for a journal that must serialize: each event
/// is serialized with the serializer Akka binds to it (as Cairn's journal and
/// Akka.Persistence.Sql do, inside WithTransport), and the bytes are appended
/// to a list in memory; nothing is written anywhere. Replay deserializes them.
/// The lists are static, so a fresh actor system in this process recovers
/// what an earlier one wrote (as with a real store).</summary>
internal sealed class SerializeOnlyJournal : AsyncWriteJournal
{
    private sealed record Stored(long SequenceNr, int SerializerId, string Manifest, byte[] Data, string Writer,
        string PersistentManifest, long Timestamp);

    private static readonly ConcurrentDictionary<string, List<Stored>> Streams = new();
    private readonly Akka.Serialization.Serialization _serialization = Context.System.Serialization;

    protected override Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages,
        CancellationToken cancellationToken)
    {
        var results = ImmutableList.CreateBuilder<Exception?>();
        foreach (var write in messages)
        {
            var stream = Streams.GetOrAdd(write.PersistenceId, _ => new List<Stored>());
            var payloads = (IImmutableList<IPersistentRepresentation>)write.Payload;
            var stored = new List<Stored>(payloads.Count);
            foreach (var p in payloads)
            {
                var (id, manifest, data) = Akka.Serialization.Serialization.WithTransport(_serialization.System,
                    (_serialization, p.Payload), static state =>
                    {
                        var serializer = state.Item1.FindSerializerFor(state.Item2);
                        return (serializer.Identifier,
                            Akka.Serialization.Serialization.ManifestFor(serializer, state.Item2),
                            serializer.ToBinary(state.Item2));
                    });
                stored.Add(new Stored(p.SequenceNr, id, manifest, data, p.WriterGuid ?? "", p.Manifest ?? "",
                    p.Timestamp));
            }
            lock (stream) stream.AddRange(stored);
            results.Add(null);
        }
        return Task.FromResult<IImmutableList<Exception?>>(results.ToImmutable());
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr,
        long toSequenceNr, long max, Action<IPersistentRepresentation> recoveryCallback)
    {
        if (!Streams.TryGetValue(persistenceId, out var stream)) return Task.CompletedTask;
        Stored[] all;
        lock (stream) all = stream.ToArray();
        long n = 0;
        foreach (var s in all)
        {
            if (s.SequenceNr < fromSequenceNr || s.SequenceNr > toSequenceNr || n++ >= max) continue;
            object payload = Akka.Serialization.Serialization.WithTransport(_serialization.System,
                (_serialization, s), static state => state.Item1.Deserialize(state.Item2.Data,
                    state.Item2.SerializerId, state.Item2.Manifest));
            recoveryCallback(new Persistent(payload, s.SequenceNr, persistenceId, s.PersistentManifest, false,
                ActorRefs.NoSender, s.Writer, s.Timestamp));
        }
        return Task.CompletedTask;
    }

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr,
        CancellationToken cancellationToken)
    {
        if (!Streams.TryGetValue(persistenceId, out var stream)) return Task.FromResult(0L);
        lock (stream) return Task.FromResult(stream.Count == 0 ? 0L : stream[^1].SequenceNr);
    }

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr,
        CancellationToken cancellationToken) =>
        throw new NotSupportedException("the serialize-only reference journal does not delete");
}

/// <summary>Prints the rows one run wrote (--tsv, one process per store)
/// side by side: one row per workload and actor count, one column per store
/// (median events/s, slowest-fastest run in brackets), then the ratios asked
/// for with --ratio A/B (medians; "best-sqlite" is the better of sql-sqlite
/// and sql-sqlite-wal in that row).</summary>
internal static class Pivot
{
    public static void Print(string file, List<string> ratios)
    {
        var rows = File.ReadAllLines(file).Where(l => l.Length > 0).Select(l => l.Split('\t')).ToList();
        var stores = rows.Select(r => r[0]).Distinct().ToList();
        var cells = rows.Select(r => (workload: r[1], actors: r[2])).Distinct().ToList();
        var byKey = rows.ToDictionary(r => (r[0], r[1].Replace(" (capped)", ""), r[2]));
        Console.WriteLine("| workload | actors | " + string.Join(" | ", stores) +
                          (ratios.Count > 0 ? " | " + string.Join(" | ", ratios) : "") + " |");
        Console.WriteLine("|---|---:|" + string.Concat(Enumerable.Repeat("---:|", stores.Count + ratios.Count)));
        foreach (var (workload, actors) in cells.Select(c => (c.workload.Replace(" (capped)", ""), c.actors))
                     .Distinct())
        {
            var line = new List<string> { workload, actors };
            foreach (var store in stores)
            {
                if (!byKey.TryGetValue((store, workload, actors), out var r))
                {
                    line.Add("");
                    continue;
                }
                line.Add($"{F(r[3])} ({F(r[4])}–{F(r[5])})" + (r[1].Contains("capped") ? " capped" : ""));
            }
            foreach (var ratio in ratios)
            {
                var parts = ratio.Split('/');
                double? a = Rate(byKey, parts[0], workload, actors), b = Rate(byKey, parts[1], workload, actors);
                line.Add(a.HasValue && b is > 0 ? $"{a / b:F2}×" : "");
            }
            Console.WriteLine("| " + string.Join(" | ", line) + " |");
        }
    }

    private static double? Rate(Dictionary<(string, string, string), string[]> byKey, string store,
        string workload, string actors)
    {
        if (store == "best-sqlite")
        {
            var rates = new[] { "sql-sqlite", "sql-sqlite-wal" }.Select(s => Rate(byKey, s, workload, actors))
                .Where(r => r.HasValue).ToList();
            return rates.Count == 0 ? null : rates.Max();
        }
        return byKey.TryGetValue((store, workload, actors), out var r)
            ? double.Parse(r[3], CultureInfo.InvariantCulture)
            : null;
    }

    private static string F(string rate) => double.Parse(rate, CultureInfo.InvariantCulture).ToString("N0",
        CultureInfo.InvariantCulture);
}
