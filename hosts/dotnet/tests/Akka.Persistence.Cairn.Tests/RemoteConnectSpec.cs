using System.Net;
using System.Net.Sockets;
using Akka.Configuration;
using Akka.Persistence.Cairn.Client;
using Xunit;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>Remote mode never blocks a caller's thread on the network: the
/// store is created without connecting (the journal's constructor runs on a
/// dispatcher thread), the first operation connects asynchronously, and a
/// subscription is opened asynchronously.</summary>
[Trait("Category", "RemoteOnly")]
public sealed class RemoteConnectSpec
{
    // A generous bound on work that must not wait for the server at all:
    // the server below never answers, so a call that waits for it never
    // returns (request-timeout is 10 minutes).
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static CairnSettings Settings(int port) => CairnSettings.Create(ConfigurationFactory.ParseString($@"
        mode = remote
        remote {{ host = ""127.0.0.1"", port = {port}, connect-timeout = 10m, request-timeout = 10m }}")
        .WithFallback(CairnPersistence.DefaultConfiguration().GetConfig(CairnPersistence.JournalPluginId)));

    [Fact]
    public async Task Nothing_waits_for_a_server_that_does_not_answer()
    {
        // Accepts connections and never answers hello.
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        int port = ((IPEndPoint)silent.LocalEndpoint).Port;
        try
        {
            var acquire = Task.Run(() => CairnStores.Acquire(Settings(port)));
            // (A TimeoutException here: CairnStores.Acquire waited for the server.)
            using var lease = await acquire.WaitAsync(Bound);

            var calls = Task.Run(() => (
                lease.Store.HeadPositionAsync(),
                lease.Store.SubscribeAsync(SubscriptionKind.All, "", 0),
                lease.Store.AppendAsync("s", ExpectedRevision.Any,
                    new[] { new EventData("t", new byte[] { 1 }, ReadOnlyMemory<byte>.Empty, "w", Array.Empty<string>()) })));
            // (A TimeoutException here: a call waited for the server before returning its task.)
            var (head, subscribe, append) = await calls.WaitAsync(Bound);

            // They wait (asynchronously) for hello's answer; when the server
            // goes away, each fails with the reason.
            using var accepted = await silent.AcceptTcpClientAsync().WaitAsync(Bound);
            Assert.False(head.IsCompleted);
            Assert.False(subscribe.IsCompleted);
            Assert.False(append.IsCompleted);
            accepted.Client.Close();
            foreach (var call in new Task[] { head, subscribe, append })
            {
                var ex = await Assert.ThrowsAsync<CairnException>(() => call.WaitAsync(Bound));
                Assert.True(ex.Status is CairnStatus.Io or CairnStatus.Closed, ex.ToString());
            }
        }
        finally
        {
            silent.Stop();
        }
    }

    [Fact]
    public async Task Calls_made_before_the_connection_is_up_are_sent_in_call_order()
    {
        using var server = TestStore.Create("remote", _ => Array.Empty<string>());
        using var lease = CairnStores.Acquire(Settings(server.Port));
        var store = lease.Store;
        // All issued before the first connection exists: each expects the one
        // before it, so any reordering on the way fails an append.
        var appends = Enumerable.Range(0, 50)
            .Select(i => store.AppendAsync("ordered", ExpectedRevision.At((ulong)i),
                new[] { new EventData("t", new byte[] { (byte)i }, ReadOnlyMemory<byte>.Empty, "w", Array.Empty<string>()) }))
            .ToList();
        foreach (var append in appends) await append.WaitAsync(Bound);
        Assert.Equal(50UL, await store.HeadRevisionAsync("ordered"));
    }
}
