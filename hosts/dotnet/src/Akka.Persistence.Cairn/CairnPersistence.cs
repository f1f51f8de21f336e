using Akka.Configuration;

namespace Akka.Persistence.Cairn;

/// <summary>The plugin's reference configuration (reference.conf).</summary>
public static class CairnPersistence
{
    public const string JournalPluginId = "akka.persistence.journal.cairn";
    public const string SnapshotPluginId = "akka.persistence.snapshot-store.cairn";
    public const string QueryPluginId = "akka.persistence.query.journal.cairn";

    private static readonly Lazy<Config> Reference = new(() =>
    {
        using var stream = typeof(CairnPersistence).Assembly.GetManifestResourceStream(
            "Akka.Persistence.Cairn.reference.conf")
            ?? throw new InvalidOperationException("Akka.Persistence.Cairn: reference.conf is not embedded");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    });

    /// <summary>Every default of the journal, snapshot store and read journal.</summary>
    public static Config DefaultConfiguration() => Reference.Value;
}
