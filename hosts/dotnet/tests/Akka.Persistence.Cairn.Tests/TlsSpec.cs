using Akka.Configuration;
using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Cairn.Remote;
using Xunit;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>
/// Remote mode over TLS against a cairnd whose certificate a private CA
/// signed (made here with the openssl command): trusted through
/// remote.tls-ca-file, refused without it. Runs in the remote suite only.
/// </summary>
[Trait("Category", "RemoteOnly")]
public sealed class TlsSpec : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly TestStore _server;

    public TlsSpec() => _server = TestStore.Create("remote", _ => _pki.ServerArgs());

    private CairnSettings Settings(string? caFile) => CairnSettings.Create(ConfigurationFactory.ParseString($@"
        mode = remote
        remote {{ host = ""127.0.0.1"", port = {_server.Port}, tls = on, tls-ca-file = ""{caFile ?? ""}"" }}")
        .WithFallback(CairnPersistence.DefaultConfiguration().GetConfig(CairnPersistence.JournalPluginId)));

    [Fact]
    public async Task A_server_signed_by_the_configured_ca_is_trusted()
    {
        using var store = await RemoteStore.ConnectAsync(Settings(_pki.CaFile));
        var events = new[] { new EventData("t", new byte[] { 1, 2 }, ReadOnlyMemory<byte>.Empty, "w", Array.Empty<string>()) };
        var result = await store.AppendAsync("tls-stream", ExpectedRevision.NoStream, events);
        Assert.Equal(1UL, result.LastRevision);
        var read = await store.ReadStreamAsync("tls-stream", 1, ulong.MaxValue, 10);
        Assert.Equal(new byte[] { 1, 2 }, Assert.Single(read).Data);
    }

    [Fact]
    public async Task A_server_the_client_cannot_trust_is_refused_with_a_reason()
    {
        var ex = await Assert.ThrowsAsync<CairnException>(() => RemoteStore.ConnectAsync(Settings(null)));
        Assert.Equal(CairnStatus.Io, ex.Status);
        Assert.Contains("TLS", ex.Message);
    }

    public void Dispose()
    {
        _server.Dispose();
        _pki.Dispose();
    }
}
