using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Cairn.Hosting;
using Akka.Persistence.Cairn.Remote;
using Xunit;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>
/// Remote mode against a cairnd started with mutual TLS on (<c>--tls-ca</c>:
/// only clients whose certificate its CA signed are served): a client with
/// such a certificate (remote.tls-cert-file / remote.tls-key-file) is served,
/// also through the journal; one without a certificate, or with one another
/// CA signed, is refused with a reason that says what to set.
/// </summary>
[Trait("Category", "RemoteOnly")]
public sealed class MutualTlsSpec : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly TestPki _otherPki = new("Some Other CA");
    private readonly TestStore _server;

    public MutualTlsSpec() =>
        _server = TestStore.Create("remote", _ => _pki.ServerArgs(clientCa: _pki.CaFile));

    private string RemoteHocon(string? certFile, string? keyFile) => $@"
        mode = remote
        remote {{
          host = ""127.0.0.1"", port = {_server.Port}, tls = on, tls-ca-file = ""{_pki.CaFile}""
          tls-cert-file = ""{certFile ?? ""}"", tls-key-file = ""{keyFile ?? ""}""
        }}";

    private CairnSettings Settings(string? certFile, string? keyFile) => CairnSettings.Create(
        ConfigurationFactory.ParseString(RemoteHocon(certFile, keyFile))
            .WithFallback(CairnPersistence.DefaultConfiguration().GetConfig(CairnPersistence.JournalPluginId)));

    private static EventData[] OneEvent() =>
        new[] { new EventData("t", new byte[] { 7 }, ReadOnlyMemory<byte>.Empty, "w", Array.Empty<string>()) };

    [Fact]
    public async Task A_client_with_a_certificate_the_servers_ca_signed_is_served()
    {
        var (cert, key) = _pki.Sign("orders-service", "orders-service");
        using var store = await RemoteStore.ConnectAsync(Settings(cert, key));
        var result = await store.AppendAsync("mtls-stream", ExpectedRevision.NoStream, OneEvent());
        Assert.Equal(1UL, result.LastRevision);
        Assert.Equal(new byte[] { 7 }, Assert.Single(await store.ReadStreamAsync("mtls-stream", 1, ulong.MaxValue, 10)).Data);
    }

    [Fact]
    public async Task A_client_without_a_certificate_is_refused_and_told_what_to_set()
    {
        var ex = await Assert.ThrowsAsync<CairnException>(() => RemoteStore.ConnectAsync(Settings(null, null)));
        Assert.Equal(CairnStatus.Io, ex.Status);
        Assert.Contains("remote.tls-cert-file", ex.Message);
        Assert.Contains("remote.tls-key-file", ex.Message);
    }

    [Fact]
    public async Task A_client_certificate_another_ca_signed_is_refused_naming_the_certificate()
    {
        var (cert, key) = _otherPki.Sign("intruder", "intruder");
        var ex = await Assert.ThrowsAsync<CairnException>(() => RemoteStore.ConnectAsync(Settings(cert, key)));
        Assert.Equal(CairnStatus.Io, ex.Status);
        Assert.Contains(cert, ex.Message);
    }

    [Fact]
    public async Task A_key_that_is_not_the_certificates_is_refused_before_connecting()
    {
        var (cert, _) = _pki.Sign("a", "a");
        var (_, otherKey) = _pki.Sign("b", "b");
        var ex = await Assert.ThrowsAsync<CairnException>(() => RemoteStore.ConnectAsync(Settings(cert, otherKey)));
        Assert.Equal(CairnStatus.InvalidArgument, ex.Status);
        Assert.Contains(otherKey, ex.Message);
    }

    [Fact]
    public async Task A_persistent_actor_configured_through_the_hosting_options_persists_and_recovers()
    {
        var (cert, key) = _pki.Sign("hosted", "hosted");
        var options = new CairnPersistenceOptions
        {
            Mode = CairnMode.Remote, RemoteHost = "127.0.0.1", RemotePort = _server.Port, RemoteTls = true,
            RemoteTlsCaFile = _pki.CaFile, RemoteTlsCertFile = cert, RemoteTlsKeyFile = key,
        };
        var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING\n" + options.ToHocon())
            .WithFallback(CairnPersistence.DefaultConfiguration());
        var timeout = TimeSpan.FromSeconds(20);
        using (var system = ActorSystem.Create("mtls", config))
        {
            var counter = system.ActorOf(CounterActor.Props("mtls-counter"));
            for (int i = 0; i < 3; i++) await counter.Ask<long>(new CounterActor.Add(1), timeout);
            await system.Terminate();
        }
        using (var system = ActorSystem.Create("mtls", config))
        {
            var counter = system.ActorOf(CounterActor.Props("mtls-counter"));
            var state = await counter.Ask<CounterActor.State>(CounterActor.Get.Instance, timeout);
            Assert.Equal(3, state.Total);
            Assert.Equal(3, state.EventsReplayed);
            await system.Terminate();
        }
    }

    public void Dispose()
    {
        _server.Dispose();
        _pki.Dispose();
        _otherPki.Dispose();
    }
}
