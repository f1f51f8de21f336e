using System.Diagnostics;
using Akka.Configuration;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>
/// The store a test runs against, chosen by CAIRN_TEST_MODE: "embedded"
/// (default; libcairn-c in this process, a fresh store per test) or "remote"
/// (a real cairnd started for the test on a free loopback port; its binary is
/// CAIRN_CAIRND). The storage plugin is CAIRN_TEST_STORAGE (default memory).
/// </summary>
public sealed class TestStore : IDisposable
{
    private readonly Process? _server;

    private TestStore(string dataDir, Process? server, int port)
    {
        DataDir = dataDir;
        _server = server;
        Port = port;
    }

    public static string Mode => Environment.GetEnvironmentVariable("CAIRN_TEST_MODE") ?? "embedded";
    public static string Storage => Environment.GetEnvironmentVariable("CAIRN_TEST_STORAGE") ?? "memory";

    public string DataDir { get; }
    public int Port { get; }

    public static TestStore Create() => Create(Mode, _ => Array.Empty<string>());

    /// <summary>A store in <paramref name="mode"/>; for remote, <paramref name="serverArgs"/>
    /// (given the test's folder) are added to cairnd's command line.</summary>
    public static TestStore Create(string mode, Func<string, IEnumerable<string>> serverArgs, int port = 0)
    {
        string dir = Path.Combine(Path.GetTempPath(), "cairn-dotnet-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        if (mode == "embedded") return new TestStore(dir, null, 0);
        if (mode != "remote") throw new InvalidOperationException($"CAIRN_TEST_MODE={mode}: use embedded or remote");
        string cairnd = Environment.GetEnvironmentVariable("CAIRN_CAIRND")
            ?? throw new InvalidOperationException("CAIRN_TEST_MODE=remote needs CAIRN_CAIRND (the cairnd binary)");
        string portFile = Path.Combine(dir, "port");
        var start = new ProcessStartInfo(cairnd)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var a in new[]
                 {
                     "--data", Path.Combine(dir, "data"), "--storage", Storage, "--listen", "127.0.0.1",
                     "--port", port.ToString(), "--port-file", portFile, "--http-port", "off", "--log-level", "warn",
                 }.Concat(serverArgs(dir)))
            start.ArgumentList.Add(a);
        var server = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {cairnd}");
        // The last lines cairnd printed, for the message when it does not start.
        var said = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void Keep(string? line)
        {
            if (line == null) return;
            said.Enqueue(line);
            while (said.Count > 20) said.TryDequeue(out _);
        }
        server.OutputDataReceived += (_, e) => Keep(e.Data);
        server.ErrorDataReceived += (_, e) => Keep(e.Data);
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (server.HasExited)
            {
                server.WaitForExit();  // the output read to its end
                throw new InvalidOperationException(
                    $"cairnd exited with {server.ExitCode} at start-up; it said: {string.Join(" | ", said)}");
            }
            if (File.Exists(portFile) && int.TryParse(File.ReadAllText(portFile).Trim(), out int bound) && bound > 0)
                return new TestStore(dir, server, bound);
            Thread.Sleep(20);
        }
        server.Kill(true);
        throw new TimeoutException("cairnd did not write its port within 20 s");
    }

    public Config Config(string extraHocon = "")
    {
        string store = Mode == "embedded"
            ? $"mode = embedded\n path = \"{Path.Combine(DataDir, "data")}\"\n storage-plugin = \"{Storage}\""
            : $"mode = remote\n remote {{ host = \"127.0.0.1\", port = {Port} }}";
        return ConfigurationFactory.ParseString($@"
akka.loglevel = WARNING
akka.stdout-loglevel = WARNING
akka.persistence.journal.plugin = ""akka.persistence.journal.cairn""
akka.persistence.snapshot-store.plugin = ""akka.persistence.snapshot-store.cairn""
akka.persistence.journal.cairn {{
  {store}
}}
akka.actor.serializers.cairn-test = ""Akka.Persistence.Cairn.Tests.TestSerializer, Akka.Persistence.Cairn.Tests""
akka.actor.serialization-bindings {{
  ""Akka.Persistence.Cairn.Tests.CustomSerialized, Akka.Persistence.Cairn.Tests"" = cairn-test
}}
{extraHocon}
").WithFallback(CairnPersistence.DefaultConfiguration());
    }

    public void Dispose()
    {
        if (_server != null && !_server.HasExited)
        {
            _server.Kill(true);
            _server.WaitForExit(10000);
        }
        _server?.Dispose();
        try
        {
            Directory.Delete(DataDir, true);
        }
        catch (IOException)
        {
        }
    }
}
