using System.Text;
using Akka.Hosting;

namespace Akka.Persistence.Cairn.Hosting;

/// <summary>What <see cref="CairnHostingExtensions.WithCairnPersistence"/> configures.</summary>
public sealed class CairnPersistenceOptions
{
    public CairnMode Mode { get; set; } = CairnMode.Embedded;

    /// <summary>Embedded: a Cairn site file; null for the defaults.</summary>
    public string? SiteFile { get; set; }

    /// <summary>Embedded: the store's folder.</summary>
    public string? Path { get; set; }

    /// <summary>Embedded: the storage plugin (mmaplog, memory, ...).</summary>
    public string? StoragePlugin { get; set; }

    /// <summary>Embedded: "section.key=value" settings applied last.</summary>
    public List<string> Overrides { get; } = new();

    public string RemoteHost { get; set; } = "127.0.0.1";
    public int RemotePort { get; set; } = 7600;

    /// <summary>Remote, a replica group: every node's client address
    /// ("host:port"), tried in order; empty: <see cref="RemoteHost"/>:<see
    /// cref="RemotePort"/>.</summary>
    public List<string> RemoteEndpoints { get; } = new();
    public bool RemoteTls { get; set; }

    /// <summary>Remote: a PEM CA the server's certificate must chain to.</summary>
    public string? RemoteTlsCaFile { get; set; }

    /// <summary>Remote, mutual TLS: this client's certificate chain (PEM);
    /// set together with <see cref="RemoteTlsKeyFile"/>.</summary>
    public string? RemoteTlsCertFile { get; set; }

    /// <summary>Remote, mutual TLS: the client certificate's private key (PEM, unencrypted).</summary>
    public string? RemoteTlsKeyFile { get; set; }

    public int WriteLanes { get; set; } = 32;

    /// <summary>Make Cairn the default journal and snapshot store (true) or
    /// only register the plugins under their ids.</summary>
    public bool IsDefaultPlugin { get; set; } = true;

    internal string ToHocon()
    {
        static string Q(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        var sb = new StringBuilder();
        sb.AppendLine($"{CairnPersistence.JournalPluginId} {{");
        sb.AppendLine($"  mode = {(Mode == CairnMode.Embedded ? "embedded" : "remote")}");
        if (SiteFile != null) sb.AppendLine($"  site-file = {Q(SiteFile)}");
        if (Path != null) sb.AppendLine($"  path = {Q(Path)}");
        if (StoragePlugin != null) sb.AppendLine($"  storage-plugin = {Q(StoragePlugin)}");
        sb.AppendLine($"  overrides = [{string.Join(", ", Overrides.Select(Q))}]");
        sb.AppendLine($"  remote {{ host = {Q(RemoteHost)}, port = {RemotePort}, tls = {(RemoteTls ? "on" : "off")} }}");
        if (RemoteEndpoints.Count > 0)
          sb.AppendLine($"  remote.endpoints = [{string.Join(", ", RemoteEndpoints.Select(Q))}]");
        if (RemoteTlsCaFile != null) sb.AppendLine($"  remote.tls-ca-file = {Q(RemoteTlsCaFile)}");
        if (RemoteTlsCertFile != null) sb.AppendLine($"  remote.tls-cert-file = {Q(RemoteTlsCertFile)}");
        if (RemoteTlsKeyFile != null) sb.AppendLine($"  remote.tls-key-file = {Q(RemoteTlsKeyFile)}");
        sb.AppendLine($"  write-lanes = {WriteLanes}");
        sb.AppendLine("}");
        if (IsDefaultPlugin)
        {
            sb.AppendLine($"akka.persistence.journal.plugin = {Q(CairnPersistence.JournalPluginId)}");
            sb.AppendLine($"akka.persistence.snapshot-store.plugin = {Q(CairnPersistence.SnapshotPluginId)}");
        }
        return sb.ToString();
    }
}

/// <summary>Akka.Hosting registration, in the style of Akka.Persistence.Hosting.</summary>
public static class CairnHostingExtensions
{
    /// <summary>
    /// Adds the Cairn journal, snapshot store and read journal (with the
    /// reference configuration) and, unless
    /// <see cref="CairnPersistenceOptions.IsDefaultPlugin"/> is false, makes
    /// them the defaults: one line for a service to persist into Cairn.
    /// </summary>
    public static AkkaConfigurationBuilder WithCairnPersistence(this AkkaConfigurationBuilder builder,
        Action<CairnPersistenceOptions>? configure = null)
    {
        var options = new CairnPersistenceOptions();
        configure?.Invoke(options);
        builder.AddHocon(options.ToHocon(), HoconAddMode.Prepend);
        builder.AddHocon(CairnPersistence.DefaultConfiguration(), HoconAddMode.Append);
        return builder;
    }
}
