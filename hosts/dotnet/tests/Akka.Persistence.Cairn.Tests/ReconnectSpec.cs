using Akka.Configuration;
using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Cairn.Remote;
using Xunit;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>Remote mode after the server restarts: the call that meets the
/// broken connection may fail, the next one connects again.</summary>
[Trait("Category", "RemoteOnly")]
public sealed class ReconnectSpec
{
    private static CairnSettings Settings(int port) => CairnSettings.Create(ConfigurationFactory.ParseString($@"
        mode = remote
        remote {{ host = ""127.0.0.1"", port = {port}, connect-timeout = 5s }}")
        .WithFallback(CairnPersistence.DefaultConfiguration().GetConfig(CairnPersistence.JournalPluginId)));

    private static readonly EventData[] OneEvent =
        { new("t", new byte[] { 7 }, ReadOnlyMemory<byte>.Empty, "w", Array.Empty<string>()) };

    [Fact]
    public async Task After_the_server_restarts_the_next_call_reconnects()
    {
        var first = TestStore.Create("remote", _ => Array.Empty<string>());
        int port = first.Port;
        using var store = new ReconnectingRemoteStore(Settings(port));
        await store.AppendAsync("before", ExpectedRevision.NoStream, OneEvent);
        first.Dispose();
        using var second = TestStore.Create("remote", _ => Array.Empty<string>(), port);

        int failures = 0;
        AppendResult? result = null;
        for (int attempt = 0; attempt < 2 && result == null; attempt++)
        {
            try
            {
                result = await store.AppendAsync("after", ExpectedRevision.NoStream, OneEvent);
            }
            catch (CairnException ex) when (ex.Status is CairnStatus.Io or CairnStatus.Closed)
            {
                failures++;
            }
        }
        Assert.NotNull(result);
        Assert.True(failures <= 1, $"{failures} calls failed after the restart; at most the first may");
        // The new server's store (memory) is fresh: only the new event is there.
        Assert.Equal(1UL, await store.HeadPositionAsync());
    }
}
