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
        Assert.Equal(7600, s.RemotePort);
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
    public async Task Remote_mode_without_a_server_fails_naming_where_it_tried()
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
        // Acquiring connects nothing (it runs on a dispatcher thread); the
        // first operation connects and fails with where it tried.
        using var lease = CairnStores.Acquire(s);
        var ex = await Assert.ThrowsAsync<Client.CairnException>(() => lease.Store.HeadPositionAsync());
        Assert.Equal(Client.CairnStatus.Io, ex.Status);
        Assert.Contains($"127.0.0.1:{port}", ex.Message);
    }

    [Fact]
    public void Remote_mode_defaults_to_cairnds_port()
    {
        // cairnd's own default (hosts/cairnd/server_options.h) when the
        // sources are at hand, else its documented 7600.
        int cairnd = 7600;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var header = Path.Combine(dir.FullName, "hosts", "cairnd", "server_options.h");
            if (!File.Exists(header)) continue;
            var m = System.Text.RegularExpressions.Regex.Match(File.ReadAllText(header),
                @"uint16_t port = (\d+);");
            Assert.True(m.Success, $"{header} no longer declares 'uint16_t port = N;'");
            cairnd = int.Parse(m.Groups[1].Value);
            break;
        }
        Assert.Equal(cairnd, Journal("").RemotePort);
        Assert.Equal(cairnd, new CairnPersistenceOptions().RemotePort);
        // No key at all (a config without the reference fallback).
        Assert.Equal(cairnd, CairnSettings.Create(ConfigurationFactory.ParseString("mode = remote")).RemotePort);
    }

    [Fact]
    public async Task Building_without_libcairn_c_fails_saying_how_to_build_it()
    {
        string? project = null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null && project == null; dir = dir.Parent)
        {
            var p = Path.Combine(dir.FullName, "hosts", "dotnet", "src", "Akka.Persistence.Cairn",
                "Akka.Persistence.Cairn.csproj");
            if (File.Exists(p)) project = p;
        }
        Assert.True(project != null, "the plugin's project file is not above " + AppContext.BaseDirectory);
        var missing = Path.Combine(Path.GetTempPath(), "cairn-no-native-" + Guid.NewGuid().ToString("N"));
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { "msbuild", project!, "-t:CheckCairnNative", $"-p:CairnNativeDir={missing}", "-nologo" })
            start.ArgumentList.Add(a);
        using var build = System.Diagnostics.Process.Start(start)!;
        var output = build.StandardOutput.ReadToEndAsync();
        var errors = build.StandardError.ReadToEndAsync();
        await build.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        string text = await output + await errors;
        Assert.NotEqual(0, build.ExitCode);
        Assert.Contains("CAIRN001", text);
        Assert.Contains(missing, text);
        Assert.Contains("--target cairn_c", text);
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

    [Fact]
    public void Without_endpoints_the_single_host_and_port_is_the_one_endpoint() {
      var s = Journal("akka.persistence.journal.cairn.remote { host = \"10.0.0.9\", port = 7611 }");
      Assert.Equal(new[] { new RemoteEndpoint("10.0.0.9", 7611) }, s.Endpoints);
      Assert.Equal(3, s.LeaderRetries);
      Assert.Equal(TimeSpan.FromSeconds(10), s.LeaderRetryWindow);
      Assert.Equal(TimeSpan.FromMilliseconds(50), s.LeaderPause);
      Assert.False(s.FindLeader);  // auto, one endpoint
    }

    [Fact]
    public void Endpoints_and_leader_retries_are_read_in_order() {
      var s = Journal(
          @"akka.persistence.journal.cairn.mode = remote
            akka.persistence.journal.cairn.remote {
            endpoints = [""10.0.0.1:7600"", ""[::1]:7601"", ""n3.site:7602""]
            leader-retries = 5, leader-retry-budget = 3s, leader-retry-pause = 10ms, find-leader = off }");
      Assert.Equal(
          new[] {
            new RemoteEndpoint("10.0.0.1", 7600),
            new RemoteEndpoint("::1", 7601),
            new RemoteEndpoint("n3.site", 7602),
          },
          s.Endpoints);
      Assert.Equal("[::1]:7601", s.Endpoints[1].ToString());
      Assert.Equal(5, s.LeaderRetries);
      Assert.Equal(TimeSpan.FromSeconds(3), s.LeaderRetryWindow);
      Assert.Equal(TimeSpan.FromMilliseconds(10), s.LeaderPause);
      Assert.False(s.FindLeader);
      Assert.True(Journal(@"akka.persistence.journal.cairn.remote.endpoints = [""a:1"", ""b:2""]")
                      .FindLeader);
      Assert.True(Journal("akka.persistence.journal.cairn.remote.find-leader = on").FindLeader);
      var bad = Assert.Throws<ConfigurationException>(
          () => Journal("akka.persistence.journal.cairn.remote.find-leader = sometimes"));
      Assert.Contains("remote.find-leader", bad.Message);
      Assert.NotEqual(
          s.StoreKey,
          Journal(
              "akka.persistence.journal.cairn { mode = remote, remote.endpoints = [\"10.0.0.1:7600\"] }")
              .StoreKey);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("10.0.0.1:0")]
    [InlineData(":7600")]
    [InlineData("host:port")]
    public void A_bad_endpoint_is_refused_naming_it(string endpoint) {
      var ex = Assert.Throws<ConfigurationException>(
          () => Journal($"akka.persistence.journal.cairn.remote.endpoints = [\"{endpoint}\"]"));
      Assert.Contains("remote.endpoints", ex.Message);
      Assert.Contains(endpoint, ex.Message);
    }

    [Fact]
    public void Negative_leader_retries_are_refused() {
      var ex = Assert.Throws<ConfigurationException>(
          () => Journal("akka.persistence.journal.cairn.remote.leader-retries = -1"));
      Assert.Contains("remote.leader-retries", ex.Message);
    }

    [Fact]
    public void WithCairnPersistence_writes_the_endpoints() {
      var options = new CairnPersistenceOptions { Mode = CairnMode.Remote };
      options.RemoteEndpoints.AddRange(new[] { "10.0.0.1:7600", "10.0.0.2:7600" });
      var s = CairnSettings.Create(ConfigurationFactory.ParseString(options.ToHocon())
                                       .WithFallback(CairnPersistence.DefaultConfiguration())
                                       .GetConfig(CairnPersistence.JournalPluginId));
      Assert.Equal(
          new[] { new RemoteEndpoint("10.0.0.1", 7600), new RemoteEndpoint("10.0.0.2", 7600) },
          s.Endpoints);
    }

    [Fact]
    public unsafe void The_embedded_store_maps_status_13_to_CairnNotLeaderException() {
      var text = System.Text.Encoding.UTF8.GetBytes(
          "append refused: the leader is node 'a' at 10.0.0.1:7600 (epoch 3)\0");
      fixed(byte* message = text) {
        var at = (IntPtr)message;
        var ex = Assert.Throws<Client.CairnNotLeaderException>(
            () => Embedded.EmbeddedStore.Check(13, (byte*)at));
        Assert.Equal(Client.CairnStatus.NotLeader, ex.Status);
        Assert.Contains("node 'a'", ex.Message);
        Assert.Null(ex.Leader);
      }
    }
}
