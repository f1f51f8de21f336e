using Akka.Configuration;

namespace Akka.Persistence.Cairn;

public enum CairnMode
{
    Embedded,
    Remote,
}

/// <summary>
/// Which store to use, read from the journal's HOCON section (the snapshot
/// store and read journal name that section with <c>store-config</c>, so all
/// three share one store). See reference.conf for every key.
/// </summary>
public sealed record CairnSettings(CairnMode Mode, string? SiteFile, string? Path,
                                   string? StoragePlugin, IReadOnlyList<string> Overrides,
                                   string RemoteHost, int RemotePort, bool RemoteTls,
                                   string? RemoteTlsCaFile, string? RemoteTlsCertFile,
                                   string? RemoteTlsKeyFile, TimeSpan ConnectTimeout,
                                   TimeSpan RequestTimeout, int WriteLanes, int ReplayBatchSize,
                                   IReadOnlyList<RemoteEndpoint>? RemoteEndpoints = null,
                                   int LeaderRetries = 3, TimeSpan? LeaderRetryBudget = null,
                                   TimeSpan? LeaderRetryPause = null,
                                   bool? FindLeaderOnConnect = null) {
  /// <summary>Whether a new connection asks its node who leads
  /// (<c>remote.find-leader</c>): on, off, or auto (null), which is on when
  /// more than one endpoint is configured.</summary>
  public bool FindLeader => FindLeaderOnConnect ?? Endpoints.Count > 1;

  /// <summary>The cairnd nodes to try, in order: <c>remote.endpoints</c>, or
  /// when that is empty the one <c>remote.host</c>:<c>remote.port</c>.</summary>
  public IReadOnlyList<RemoteEndpoint> Endpoints =>
      RemoteEndpoints is { Count : > 0 } ? RemoteEndpoints
                                         : new[] { new RemoteEndpoint(RemoteHost, RemotePort) };

  /// <summary>No retry of a refused write begins after this long (from the first
  /// refusal).</summary>
  public TimeSpan LeaderRetryWindow => LeaderRetryBudget ?? TimeSpan.FromSeconds(10);

  /// <summary>The first pause while no leader is known; it doubles per retry (at most 32 times
  /// it).</summary>
  public TimeSpan LeaderPause => LeaderRetryPause ?? TimeSpan.FromMilliseconds(50);

  public static CairnSettings Create(Config config) {
    if (config.IsNullOrEmpty())
      throw new ConfigurationException(
          "Cairn: the store configuration section is missing or empty");
    var modeText = config.GetString("mode", "embedded").Trim().ToLowerInvariant();
    var mode = modeText switch {
      "embedded" => CairnMode.Embedded,
      "remote" => CairnMode.Remote,
      _ => throw new ConfigurationException(
          $"Cairn: mode = \"{modeText}\" is not \"embedded\" or \"remote\""),
    };
    int lanes = config.GetInt("write-lanes", 32);
    if (lanes < 1)
      throw new ConfigurationException($"Cairn: write-lanes = {lanes} must be at least 1");
    int replay = config.GetInt("replay-batch-size", 1024);
    if (replay < 1)
      throw new ConfigurationException($"Cairn: replay-batch-size = {replay} must be at least 1");
    int port = config.GetInt("remote.port", 7600);
    if (port is<1 or> 65535)
      throw new ConfigurationException($"Cairn: remote.port = {port} is not a TCP port");
    bool tls = config.GetBoolean("remote.tls", false);
    var certFile = Blank(config.GetString("remote.tls-cert-file", ""));
    var keyFile = Blank(config.GetString("remote.tls-key-file", ""));
    // A client certificate (mutual TLS) is a certificate and its key, and
    // only means something over TLS: a half-given pair is a mistake.
    if ((certFile == null) != (keyFile == null))
      throw new ConfigurationException(
          "Cairn: remote.tls-cert-file and remote.tls-key-file go together (a client certificate and its " +
          "private key, PEM); set both or neither");
    if (certFile != null && !tls)
      throw new ConfigurationException(
          "Cairn: remote.tls-cert-file is set but remote.tls = off; a client certificate needs remote.tls = on");
    var endpoints =
        (config.GetStringList("remote.endpoints", Array.Empty<string>()) ?? Array.Empty<string>())
            .Select(e => RemoteEndpoint.Parse(e, "remote.endpoints"))
            .ToList();
    int leaderRetries = config.GetInt("remote.leader-retries", 3);
    if (leaderRetries < 0)
      throw new ConfigurationException(
          $"Cairn: remote.leader-retries = {leaderRetries} must be 0 or more");
    var budget = config.GetTimeSpan("remote.leader-retry-budget", TimeSpan.FromSeconds(10));
    var pause = config.GetTimeSpan("remote.leader-retry-pause", TimeSpan.FromMilliseconds(50));
    if (budget < TimeSpan.Zero || pause < TimeSpan.Zero)
      throw new ConfigurationException(
          "Cairn: remote.leader-retry-budget and remote.leader-retry-pause must not be negative");
    return new CairnSettings(
        mode, Blank(config.GetString("site-file", "")), Blank(config.GetString("path", "")),
        Blank(config.GetString("storage-plugin", "")),
        (config.GetStringList("overrides", Array.Empty<string>()) ?? Array.Empty<string>())
            .ToList(),
        config.GetString("remote.host", "127.0.0.1"), port, tls,
        Blank(config.GetString("remote.tls-ca-file", "")), certFile, keyFile,
        config.GetTimeSpan("remote.connect-timeout", TimeSpan.FromSeconds(5)),
        config.GetTimeSpan("remote.request-timeout", TimeSpan.FromSeconds(30)), lanes, replay,
        endpoints, leaderRetries, budget, pause,
        FindLeaderSetting(config.GetString("remote.find-leader", "auto")));
  }

  /// <summary>The overrides handed to libcairn-c: path and storage plugin first,
  /// then the explicit ones (which therefore win).</summary>
  public IReadOnlyList<string> EmbeddedOverrides() {
    var all = new List<string>();
    if (Path != null)
      all.Add($"store.path={Path}");
    if (StoragePlugin != null)
      all.Add($"storage.plugin={StoragePlugin}");
    all.AddRange(Overrides);
    return all;
  }

  /// <summary>Two settings with the same key use the same store object.</summary>
  public string StoreKey =>
      Mode == CairnMode.Embedded
          ? $"embedded|{(SiteFile == null ? "" : System.IO.Path.GetFullPath(SiteFile))}|{string.Join("|", EmbeddedOverrides().Select(NormalisePath))}"
          : $"remote|{string.Join(",", Endpoints)}|{RemoteTls}|{RemoteTlsCertFile}";

  private static string NormalisePath(string assignment) =>
      assignment.StartsWith("store.path=", StringComparison.Ordinal)
          ? "store.path=" + System.IO.Path.GetFullPath(assignment.Substring("store.path=".Length))
          : assignment;

  private static bool ? FindLeaderSetting(string text) => text.Trim().ToLowerInvariant() switch {
    "auto" => null,
    "on" or "true" or "yes" => true,
    "off" or "false" or "no" => false,
    _ => throw new ConfigurationException(
        $"Cairn: remote.find-leader = \"{text}\" is not auto, on or off"),
  };

  private static string ? Blank(string ? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}

/// <summary>A cairnd client address.</summary>
public sealed record RemoteEndpoint(string Host, int Port) {
  /// <summary>"host:port" or "[v6]:port"; <paramref name="what"/> names
  /// where the text came from for the error.</summary>
  public static RemoteEndpoint Parse(string text, string what) {
    string t = text.Trim();
    int colon = t.LastIndexOf(':');
    string host = colon > 0 ? t[..colon] : "";
    if (host.StartsWith('[') && host.EndsWith(']'))
      host = host[1.. ^ 1];
    if (colon <= 0 || host.Length == 0 || !int.TryParse(t[(colon + 1)..], out int port) ||
        port is<1 or> 65535)
      throw new ConfigurationException(
          $"Cairn: {what}: \"{text}\" is not host:port (e.g. \"10.0.0.5:7600\" or \"[::1]:7600\")");
    return new RemoteEndpoint(host, port);
  }

  public override string ToString() => Host.Contains(':') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
