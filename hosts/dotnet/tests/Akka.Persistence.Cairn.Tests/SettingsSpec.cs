using Akka.Configuration;
using Akka.Persistence.Cairn.Hosting;
using Xunit;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>Configuration: defaults, bad values refused with a reason, and
/// what WithCairnPersistence writes.</summary>
public sealed class SettingsSpec
{
    private static CairnSettings Journal(string hocon) =>
        CairnSettings.Create(ConfigurationFactory.ParseString(hocon)
            .WithFallback(CairnPersistence.DefaultConfiguration())
            .GetConfig(CairnPersistence.JournalPluginId));

    [Fact]
    public void Reference_config_defaults_to_embedded_mode()
    {
        var s = Journal("");
        Assert.Equal(CairnMode.Embedded, s.Mode);
        Assert.Null(s.SiteFile);
        Assert.Equal(32, s.WriteLanes);
        Assert.Equal(7700, s.RemotePort);
        Assert.Empty(s.EmbeddedOverrides());
    }

    [Fact]
    public void An_unknown_mode_is_refused_naming_it()
    {
        var ex = Assert.Throws<ConfigurationException>(() =>
            Journal("akka.persistence.journal.cairn.mode = sideways"));
        Assert.Contains("sideways", ex.Message);
    }

    [Fact]
    public void Zero_write_lanes_are_refused()
    {
        var ex = Assert.Throws<ConfigurationException>(() =>
            Journal("akka.persistence.journal.cairn.write-lanes = 0"));
        Assert.Contains("write-lanes", ex.Message);
    }

    [Fact]
    public void Path_and_storage_plugin_become_overrides_before_explicit_ones()
    {
        var s = Journal(@"akka.persistence.journal.cairn {
            path = ""/var/lib/orders""
            storage-plugin = memory
            overrides = [""storage.plugin=mmaplog"", ""storage.fsync=never""]
        }");
        Assert.Equal(new[] { "store.path=/var/lib/orders", "storage.plugin=memory", "storage.plugin=mmaplog",
            "storage.fsync=never" }, s.EmbeddedOverrides());
    }

    [Fact]
    public void A_missing_site_file_fails_opening_with_its_name()
    {
        var s = Journal(@"akka.persistence.journal.cairn.site-file = ""/nonexistent/site.ini""");
        var ex = Assert.Throws<Client.CairnException>(() => CairnStores.Acquire(s));
        Assert.Contains("/nonexistent/site.ini", ex.Message);
    }

    [Fact]
    public void WithCairnPersistence_writes_the_plugin_ids_and_store_settings()
    {
        var options = new CairnPersistenceOptions { Path = "/data/orders", StoragePlugin = "mmaplog" };
        options.Overrides.Add("storage.fsync=interval:5");
        var config = ConfigurationFactory.ParseString(options.ToHocon())
            .WithFallback(CairnPersistence.DefaultConfiguration());
        Assert.Equal(CairnPersistence.JournalPluginId, config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal(CairnPersistence.SnapshotPluginId, config.GetString("akka.persistence.snapshot-store.plugin"));
        var s = CairnSettings.Create(config.GetConfig(CairnPersistence.JournalPluginId));
        Assert.Equal(new[] { "store.path=/data/orders", "storage.plugin=mmaplog", "storage.fsync=interval:5" },
            s.EmbeddedOverrides());
    }

    [Fact]
    public void WithCairnPersistence_remote_mode_names_the_server()
    {
        var options = new CairnPersistenceOptions { Mode = CairnMode.Remote, RemoteHost = "10.1.2.3", RemotePort = 7711 };
        var s = CairnSettings.Create(ConfigurationFactory.ParseString(options.ToHocon())
            .WithFallback(CairnPersistence.DefaultConfiguration()).GetConfig(CairnPersistence.JournalPluginId));
        Assert.Equal(CairnMode.Remote, s.Mode);
        Assert.Equal("10.1.2.3", s.RemoteHost);
        Assert.Equal(7711, s.RemotePort);
    }

    [Fact]
    public void Remote_mode_without_a_server_fails_naming_where_it_tried()
    {
        // A port that was free a moment ago: nothing listens there.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var s = Journal($@"akka.persistence.journal.cairn {{
            mode = remote
            remote {{ port = {port}, connect-timeout = 2s }}
        }}");
        var ex = Assert.Throws<Client.CairnException>(() => CairnStores.Acquire(s));
        Assert.Equal(Client.CairnStatus.Io, ex.Status);
        Assert.Contains($"127.0.0.1:{port}", ex.Message);
    }

    [Fact]
    public void A_client_certificate_without_its_key_is_refused()
    {
        var ex = Assert.Throws<ConfigurationException>(() => Journal(@"akka.persistence.journal.cairn {
            mode = remote, remote { tls = on, tls-cert-file = ""/etc/cairn/client.pem"" } }"));
        Assert.Contains("remote.tls-key-file", ex.Message);
    }

    [Fact]
    public void A_client_certificate_without_tls_is_refused()
    {
        var ex = Assert.Throws<ConfigurationException>(() => Journal(@"akka.persistence.journal.cairn {
            mode = remote
            remote { tls = off, tls-cert-file = ""/etc/cairn/client.pem"", tls-key-file = ""/etc/cairn/client.key"" }
        }"));
        Assert.Contains("remote.tls = on", ex.Message);
    }

    [Fact]
    public void WithCairnPersistence_writes_the_client_certificate_for_mutual_tls()
    {
        var options = new CairnPersistenceOptions
        {
            Mode = CairnMode.Remote, RemoteTls = true, RemoteTlsCaFile = "/etc/cairn/ca.pem",
            RemoteTlsCertFile = "/etc/cairn/client.pem", RemoteTlsKeyFile = "/etc/cairn/client.key",
        };
        var s = CairnSettings.Create(ConfigurationFactory.ParseString(options.ToHocon())
            .WithFallback(CairnPersistence.DefaultConfiguration()).GetConfig(CairnPersistence.JournalPluginId));
        Assert.Equal("/etc/cairn/client.pem", s.RemoteTlsCertFile);
        Assert.Equal("/etc/cairn/client.key", s.RemoteTlsKeyFile);
        Assert.Equal("/etc/cairn/ca.pem", s.RemoteTlsCaFile);
    }
}
