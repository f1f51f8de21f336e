using System.Diagnostics;
using Xunit;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>
/// A throwaway private CA in a temp folder, made with the openssl command (as
/// hosts/cairnd/cairnd_tls_test.cc does): a server certificate for 127.0.0.1
/// and client certificates on demand. Each file is named by what it is
/// (ca.pem, server.pem, server.key, NAME.pem, NAME.key).
/// </summary>
public sealed class TestPki : IDisposable
{
    public TestPki(string caName = "Cairn Test CA")
    {
        Directory.CreateDirectory(Dir);
        OpenSsl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", $"/CN={caName}",
            "-keyout", "ca.key", "-out", "ca.pem");
        File.WriteAllText(Path.Combine(Dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
        Sign("server", "127.0.0.1", "san.ext");
    }

    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "cairn-dotnet-tls", Guid.NewGuid().ToString("N"));

    public string FileOf(string name) => Path.Combine(Dir, name);

    public string CaFile => FileOf("ca.pem");

    /// <summary>cairnd's TLS flags for the server certificate, plus
    /// <c>--tls-ca</c> (mutual TLS) when <paramref name="clientCa"/> is given.</summary>
    public string[] ServerArgs(string? clientCa = null)
    {
        var args = new List<string>
        {
            "--tls-mode", "on", "--tls-cert", FileOf("server.pem"), "--tls-key", FileOf("server.key"),
        };
        if (clientCa != null) args.AddRange(new[] { "--tls-ca", clientCa });
        return args.ToArray();
    }

    /// <summary>Makes NAME.pem and NAME.key, a certificate this CA signed for
    /// <paramref name="commonName"/>.</summary>
    public (string cert, string key) Sign(string name, string commonName, string? extFile = null)
    {
        OpenSsl("req", "-newkey", "rsa:2048", "-nodes", "-subj", $"/CN={commonName}", "-keyout", $"{name}.key",
            "-out", $"{name}.csr");
        var args = new List<string>
        {
            "x509", "-req", "-in", $"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-out", $"{name}.pem",
        };
        if (extFile != null) args.AddRange(new[] { "-extfile", extFile });
        OpenSsl(args.ToArray());
        return (FileOf($"{name}.pem"), FileOf($"{name}.key"));
    }

    private void OpenSsl(params string[] args)
    {
        var start = new ProcessStartInfo("openssl") { WorkingDirectory = Dir, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"openssl {string.Join(' ', args)}: {err}");
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, true);
        }
        catch (IOException)
        {
        }
    }
}
