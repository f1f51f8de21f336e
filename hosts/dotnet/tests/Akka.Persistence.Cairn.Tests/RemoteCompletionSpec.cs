using System.Diagnostics;
using Akka.Configuration;
using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Cairn.Remote;
using Xunit;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>Where a remote append's answer is handed to its caller: the
/// journal's lanes take it right in the connection's read loop (no second
/// thread-pool hand-off per write, #18 point 7); every other caller gets it
/// on the thread pool, so its code can never hold up the read loop.</summary>
[Trait("Category", "RemoteOnly")]
public sealed class RemoteCompletionSpec : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly TestStore _server = TestStore.Create("remote", _ => Array.Empty<string>());

    public void Dispose() => _server.Dispose();

    private ReconnectingRemoteStore Connect() => new(CairnSettings.Create(ConfigurationFactory.ParseString($@"
        mode = remote
        remote {{ host = ""127.0.0.1"", port = {_server.Port} }}")
        .WithFallback(CairnPersistence.DefaultConfiguration().GetConfig(CairnPersistence.JournalPluginId))));

    private static readonly EventData[] OneEvent =
        { new("t", new byte[] { 1 }, ReadOnlyMemory<byte>.Empty, "w", Array.Empty<string>()) };

    // Appends sent back to back: an answer may come before the test has
    // registered its continuation on that append's task (the continuation
    // then runs on the test's thread), but not for all of them.
    private const int Appends = 200;

    /// <summary>How many of <paramref name="appends"/> ran a continuation
    /// inside the read loop's dispatch of their answer.</summary>
    private static async Task<int> ContinuedInReadLoop(Func<int, Task> append)
    {
        var seen = new List<Task<bool>>();
        for (int i = 0; i < Appends; i++)
        {
            seen.Add(append(i).ContinueWith(
                _ => new StackTrace().GetFrames().Any(f =>
                    f.GetMethod() is { Name: "Dispatch" } m && m.DeclaringType == typeof(RemoteStore)),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
        }
        return (await Task.WhenAll(seen).WaitAsync(Bound)).Count(inLoop => inLoop);
    }

    [Fact]
    public async Task A_lane_append_completes_in_the_read_loop()
    {
        using var store = Connect();
        await store.HeadPositionAsync().WaitAsync(Bound); // connected
        Assert.NotEqual(0, await ContinuedInReadLoop(i =>
            store.AppendOnReaderAsync("lane", ExpectedRevision.At((ulong)i), OneEvent)));
    }

    [Fact]
    public async Task Any_other_append_completes_on_the_thread_pool()
    {
        using var store = Connect();
        await store.HeadPositionAsync().WaitAsync(Bound);
        Assert.Equal(0, await ContinuedInReadLoop(i =>
            store.AppendAsync("other", ExpectedRevision.At((ulong)i), OneEvent)));
    }
}
