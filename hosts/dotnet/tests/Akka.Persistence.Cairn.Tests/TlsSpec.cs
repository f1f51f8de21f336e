using System.Diagnostics;
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
    private readonly string _pki = Path.Combine(Path.GetTempPath(), "cairn-dotnet-tls", Guid.NewGuid().ToString("N"));
    private readonly TestStore _server;

    public TlsSpec()
    {
        Directory.CreateDirectory(_pki);
        OpenSsl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Cairn Test CA",
            "-keyout", "ca.key", "-out", "ca.pem");
        OpenSsl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
            "-out", "server.csr");
        File.WriteAllText(Path.Combine(_pki, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
        OpenSsl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.pem");
        _server = TestStore.Create("remote", _ => new[]
        {
            "--tls-mode", "on", "--tls-cert", Path.Combine(_pki, "server.pem"),
            "--tls-key", Path.Combine(_pki, "server.key"),
        });
    }

    private void OpenSsl(params string[] args)
    {
        var start = new ProcessStartInfo("openssl") { WorkingDirectory = _pki, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"openssl {string.Join(' ', args)}: {err}");
    }

    private CairnSettings Settings(string? caFile) => CairnSettings.Create(ConfigurationFactory.ParseString($@"
        mode = remote
        remote {{ host = ""127.0.0.1"", port = {_server.Port}, tls = on, tls-ca-file = ""{caFile ?? ""}"" }}")
        .WithFallback(CairnPersistence.DefaultConfiguration().GetConfig(CairnPersistence.JournalPluginId)));

    [Fact]
    public async Task A_server_signed_by_the_configured_ca_is_trusted()
    {
        using var store = await RemoteStore.ConnectAsync(Settings(Path.Combine(_pki, "ca.pem")));
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
        try
        {
            Directory.Delete(_pki, true);
        }
        catch (IOException)
        {
        }
    }
}
