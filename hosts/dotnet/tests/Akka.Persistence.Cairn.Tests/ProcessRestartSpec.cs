using System.Diagnostics;
using Xunit;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>
/// Embedded mode across a process restart: a separate process persists into
/// a store folder and exits; a second process recovers from the same folder.
/// Uses a persistent storage plugin (CAIRN_TEST_RESTART_STORAGE, default
/// mmaplog). In remote mode the server outlives the client, so this is the
/// embedded mode's test only (scripts/test.d/50-dotnet.sh filters the
/// EmbeddedOnly category out of the remote run).
/// </summary>
public sealed class ProcessRestartSpec : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cairn-dotnet-restart", Guid.NewGuid().ToString("N"));

    private static string Probe([System.Runtime.CompilerServices.CallerFilePath] string _ = "") =>
        Path.Combine(AppContext.BaseDirectory, "Akka.Persistence.Cairn.RestartProbe.dll");

    private string Run(int adds)
    {
        string storage = Environment.GetEnvironmentVariable("CAIRN_TEST_RESTART_STORAGE") ?? "mmaplog";
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { Probe(), _dir, storage, adds.ToString() }) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60000), "the probe process did not finish within 60 s");
        Assert.True(process.ExitCode == 0, $"probe exited {process.ExitCode}: {stderr.Result}{stdout.Result}");
        return stdout.Result.Trim();
    }

    [Fact]
    [Trait("Category", "EmbeddedOnly")]
    public void A_second_process_recovers_what_the_first_persisted()
    {
        Assert.Equal("recovered=0 snapshot=0 replayed=0 final=6", Run(6));
        // Snapshot at 4, events 5 and 6 replayed on top.
        Assert.Equal("recovered=6 snapshot=4 replayed=2 final=9", Run(3));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
