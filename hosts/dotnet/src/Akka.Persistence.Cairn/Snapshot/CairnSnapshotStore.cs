using Akka.Configuration;
using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Snapshot;

namespace Akka.Persistence.Cairn.Snapshot;

/// <summary>
/// Akka.Persistence snapshot store on a Cairn store (the one the journal's
/// section names through <c>store-config</c>). A snapshot is stored at
/// (persistenceId, sequence number); saving again at the same number replaces
/// it. The snapshot object is serialized with its Akka serializer and framed
/// with the serializer id, manifest and exact timestamp (ticks), so metadata
/// round-trips exactly; the store's own timestamp (microseconds) serves the
/// criteria.
/// </summary>
public sealed class CairnSnapshotStore : SnapshotStore
{
    private readonly CairnStores.Lease _lease;
    private readonly ICairnStore _store;
    private readonly Akka.Serialization.Serialization _serialization;

    public CairnSnapshotStore(Config config)
    {
        var storeConfigPath = config.GetString("store-config", "akka.persistence.journal.cairn");
        var storeConfig = Context.System.Settings.Config.GetConfig(storeConfigPath);
        if (storeConfig.IsNullOrEmpty())
            throw new ConfigurationException(
                $"Cairn snapshot store: store-config = \"{storeConfigPath}\" names no configuration section");
        _lease = CairnStores.Acquire(CairnSettings.Create(storeConfig));
        _store = _lease.Store;
        _serialization = Context.System.Serialization;
    }

    protected override void PostStop()
    {
        _lease.Dispose();
        base.PostStop();
    }

    protected override async Task<SelectedSnapshot?> LoadAsync(string persistenceId,
        SnapshotSelectionCriteria criteria, CancellationToken cancellationToken)
    {
        var record = await _store.LoadSnapshotAsync(persistenceId, ToCriteria(criteria)).ConfigureAwait(false);
        if (record == null) return null;
        var (facts, data) = SnapshotEnvelope.Decode(record.Data, $"snapshot {persistenceId}/{record.Revision}");
        object snapshot = PayloadEnvelope.Deserialize(_serialization, data, facts);
        var metadata = new SnapshotMetadata(persistenceId, (long)record.Revision, new DateTime(facts.TimestampTicks,
            DateTimeKind.Utc));
        return new SelectedSnapshot(metadata, snapshot);
    }

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot,
        CancellationToken cancellationToken)
    {
        try
        {
            var s = PayloadEnvelope.Serialize(_serialization, snapshot);
            long ticks = metadata.Timestamp == DateTime.MinValue ? DateTime.UtcNow.Ticks : metadata.Timestamp.Ticks;
            var facts = new PayloadEnvelope.Facts(s.SerializerId, s.SerializerManifest, "", ticks);
            var bytes = SnapshotEnvelope.Encode(facts, s.Data);
            return _store.SaveSnapshotAsync(metadata.PersistenceId, (ulong)metadata.SequenceNr,
                PayloadEnvelope.TicksToUnixMicros(ticks), bytes);
        }
        catch (Exception ex)
        {
            return Task.FromException(ex);
        }
    }

    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        if (metadata.Timestamp == DateTime.MinValue)
            return _store.DeleteSnapshotAsync(metadata.PersistenceId, (ulong)metadata.SequenceNr);
        // A timestamp given must match too.
        long micros = PayloadEnvelope.TicksToUnixMicros(metadata.Timestamp.Ticks);
        ulong seq = (ulong)metadata.SequenceNr;
        return _store.DeleteSnapshotsAsync(metadata.PersistenceId, new SnapshotCriteria(seq, seq, micros, micros));
    }

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria,
        CancellationToken cancellationToken) =>
        _store.DeleteSnapshotsAsync(persistenceId, ToCriteria(criteria));

    internal static SnapshotCriteria ToCriteria(SnapshotSelectionCriteria c)
    {
        ulong maxSeq = c.MaxSequenceNr < 0 ? 0 : (ulong)c.MaxSequenceNr;
        ulong minSeq = c.MinSequenceNr < 0 ? 0 : (ulong)c.MinSequenceNr;
        long maxTs = PayloadEnvelope.DateTimeToUnixMicros(c.MaxTimeStamp);
        long minTs = c.MinTimestamp.HasValue ? PayloadEnvelope.DateTimeToUnixMicros(c.MinTimestamp.Value)
            : long.MinValue;
        return new SnapshotCriteria(minSeq, maxSeq, minTs, maxTs);
    }
}

/// <summary>A snapshot's bytes in the store: the facts (as for events), then the payload.</summary>
internal static class SnapshotEnvelope
{
    public static byte[] Encode(PayloadEnvelope.Facts facts, byte[] data)
    {
        var head = PayloadEnvelope.EncodeFacts(facts);
        var all = new byte[4 + head.Length + data.Length];
        BitConverter.TryWriteBytes(all.AsSpan(0, 4), head.Length);
        head.CopyTo(all, 4);
        data.CopyTo(all, 4 + head.Length);
        return all;
    }

    public static (PayloadEnvelope.Facts, byte[]) Decode(byte[] bytes, string what)
    {
        if (bytes.Length < 4)
            throw new InvalidDataException($"Cairn: {what} is {bytes.Length} bytes, too short for its header");
        int headLength = BitConverter.ToInt32(bytes, 0);
        if (headLength < 0 || headLength > bytes.Length - 4)
            throw new InvalidDataException($"Cairn: {what} has a header length {headLength} beyond its {bytes.Length} bytes");
        var facts = PayloadEnvelope.DecodeFacts(bytes.AsSpan(4, headLength), what);
        return (facts, bytes.AsSpan(4 + headLength).ToArray());
    }
}
