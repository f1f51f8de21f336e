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
/// round-trips exactly. The store (and the C ABI and cairnd protocol under it)
/// keeps timestamps in microseconds, coarser than Akka's ticks (100 ns), so
/// criteria are applied in two steps: the store selects by microseconds,
/// widened to take in every snapshot that may match, and the exact test is
/// made here on the ticks in the envelope (Akka's own
/// <c>SnapshotSelectionCriteria</c> rule: min &lt;= timestamp &lt;= max, in ticks).
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
        var found = await LoadExactAsync(persistenceId, criteria, Coarse(criteria)).ConfigureAwait(false);
        if (found == null) return null;
        var (record, facts, data) = found.Value;
        object snapshot = PayloadEnvelope.Deserialize(_serialization, data, facts);
        var metadata = new SnapshotMetadata(persistenceId, (long)record.Revision, new DateTime(facts.TimestampTicks,
            DateTimeKind.Utc));
        return new SelectedSnapshot(metadata, snapshot);
    }

    /// <summary>The snapshot of highest revision within <paramref name="coarse"/>
    /// that matches <paramref name="exact"/> to the tick. A candidate the store
    /// picked whose ticks fall outside (it shares a boundary microsecond) is
    /// passed over by asking again below its revision: bounded by the
    /// snapshots in those boundary microseconds.</summary>
    private async Task<(SnapshotRecord, PayloadEnvelope.Facts, byte[])?> LoadExactAsync(string persistenceId,
        SnapshotSelectionCriteria exact, SnapshotCriteria coarse)
    {
        while (true)
        {
            var record = await _store.LoadSnapshotAsync(persistenceId, coarse).ConfigureAwait(false);
            if (record == null) return null;
            var (facts, data) = SnapshotEnvelope.Decode(record.Data, $"snapshot {persistenceId}/{record.Revision}");
            if (Matches(exact, (long)record.Revision, facts.TimestampTicks)) return (record, facts, data);
            if (record.Revision == 0 || record.Revision - 1 < coarse.MinRevision) return null;
            coarse = coarse with { MaxRevision = record.Revision - 1 };
        }
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

    protected override async Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        ulong seq = (ulong)metadata.SequenceNr;
        if (metadata.Timestamp == DateTime.MinValue)
        {
            await _store.DeleteSnapshotAsync(metadata.PersistenceId, seq).ConfigureAwait(false);
            return;
        }
        // A timestamp given must match too, to the tick.
        var exact = new SnapshotSelectionCriteria(metadata.SequenceNr, metadata.Timestamp, metadata.SequenceNr,
            metadata.Timestamp);
        await DeleteExactAsync(metadata.PersistenceId, exact, Coarse(exact)).ConfigureAwait(false);
    }

    protected override async Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria,
        CancellationToken cancellationToken)
    {
        var coarse = Coarse(criteria);
        // Microseconds strictly between the bounds' own hold only matches:
        // the store deletes those at once. The bounds' microseconds may hold
        // snapshots on either side of the bound, tested one by one.
        var inner = coarse with
        {
            MinTimestampUs = coarse.MinTimestampUs == long.MinValue ? long.MinValue : coarse.MinTimestampUs + 1,
            MaxTimestampUs = coarse.MaxTimestampUs == long.MaxValue ? long.MaxValue : coarse.MaxTimestampUs - 1,
        };
        if (inner.MinTimestampUs <= inner.MaxTimestampUs && inner.MinRevision <= inner.MaxRevision)
            await _store.DeleteSnapshotsAsync(persistenceId, inner).ConfigureAwait(false);
        if (coarse.MinTimestampUs != long.MinValue)
            await DeleteExactAsync(persistenceId, criteria,
                coarse with { MaxTimestampUs = coarse.MinTimestampUs }).ConfigureAwait(false);
        if (coarse.MaxTimestampUs != long.MaxValue && coarse.MaxTimestampUs != coarse.MinTimestampUs)
            await DeleteExactAsync(persistenceId, criteria,
                coarse with { MinTimestampUs = coarse.MaxTimestampUs }).ConfigureAwait(false);
    }

    /// <summary>Deletes, one by one, the snapshots within <paramref name="coarse"/>
    /// that match <paramref name="exact"/> to the tick.</summary>
    private async Task DeleteExactAsync(string persistenceId, SnapshotSelectionCriteria exact,
        SnapshotCriteria coarse)
    {
        while (coarse.MinRevision <= coarse.MaxRevision)
        {
            var record = await _store.LoadSnapshotAsync(persistenceId, coarse).ConfigureAwait(false);
            if (record == null) return;
            var (facts, _) = SnapshotEnvelope.Decode(record.Data, $"snapshot {persistenceId}/{record.Revision}");
            if (Matches(exact, (long)record.Revision, facts.TimestampTicks))
                await _store.DeleteSnapshotAsync(persistenceId, record.Revision).ConfigureAwait(false);
            if (record.Revision == 0) return;
            coarse = coarse with { MaxRevision = record.Revision - 1 };
        }
    }

    /// <summary>Akka's rule, in ticks.</summary>
    internal static bool Matches(SnapshotSelectionCriteria c, long sequenceNr, long ticks) =>
        sequenceNr <= c.MaxSequenceNr && sequenceNr >= c.MinSequenceNr &&
        ticks <= c.MaxTimeStamp.Ticks && ticks >= (c.MinTimestamp?.Ticks ?? long.MinValue);

    /// <summary>The store criteria that take in every snapshot matching
    /// <paramref name="c"/> (the microseconds its tick bounds fall in), and
    /// possibly some in those same microseconds that do not.</summary>
    internal static SnapshotCriteria Coarse(SnapshotSelectionCriteria c)
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
