using Akka.Persistence.Cairn.Client;

namespace Akka.Persistence.Cairn.Remote;

/// <summary>
/// A remote store that opens a new connection when the old one has broken:
/// the call that meets the break fails (its outcome is unknown to the
/// client, so it is not retried), and the next call connects again. Open
/// subscriptions end with the connection; their queries fail and are
/// restarted by their owners.
/// </summary>
public sealed class ReconnectingRemoteStore : ICairnStore
{
    private readonly CairnSettings _settings;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private RemoteStore _current;
    private bool _disposed;

    private ReconnectingRemoteStore(CairnSettings settings, RemoteStore first)
    {
        _settings = settings;
        _current = first;
    }

    public static ReconnectingRemoteStore Connect(CairnSettings settings) =>
        new(settings, RemoteStore.Connect(settings));

    private async Task<RemoteStore> CurrentAsync()
    {
        var current = Volatile.Read(ref _current);
        if (!current.IsBroken) return current;
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) throw new CairnException(CairnStatus.Closed, "the Cairn remote store is closed");
            if (_current.IsBroken)
            {
                var fresh = await RemoteStore.ConnectAsync(_settings).ConfigureAwait(false);
                var old = _current;
                Volatile.Write(ref _current, fresh);
                old.Dispose();
            }
            return _current;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<AppendResult> AppendAsync(string stream, ExpectedRevision expected,
        IReadOnlyList<EventData> events) =>
        await (await CurrentAsync().ConfigureAwait(false)).AppendAsync(stream, expected, events).ConfigureAwait(false);

    public async Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string stream, ulong fromRevision,
        ulong toRevision, ulong maxCount) =>
        await (await CurrentAsync().ConfigureAwait(false)).ReadStreamAsync(stream, fromRevision, toRevision, maxCount)
            .ConfigureAwait(false);

    public async Task<IReadOnlyList<RecordedEvent>> ReadTagAsync(string tag, ulong afterPosition, ulong maxCount) =>
        await (await CurrentAsync().ConfigureAwait(false)).ReadTagAsync(tag, afterPosition, maxCount)
            .ConfigureAwait(false);

    public async Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(ulong afterPosition, ulong maxCount) =>
        await (await CurrentAsync().ConfigureAwait(false)).ReadAllAsync(afterPosition, maxCount).ConfigureAwait(false);

    public async Task<ulong> HeadRevisionAsync(string stream) =>
        await (await CurrentAsync().ConfigureAwait(false)).HeadRevisionAsync(stream).ConfigureAwait(false);

    public async Task<ulong> HeadPositionAsync() =>
        await (await CurrentAsync().ConfigureAwait(false)).HeadPositionAsync().ConfigureAwait(false);

    public async Task DeleteToAsync(string stream, ulong revision) =>
        await (await CurrentAsync().ConfigureAwait(false)).DeleteToAsync(stream, revision).ConfigureAwait(false);

    public async Task<IReadOnlyList<StreamInfo>> ListStreamsAsync(ulong afterOrdinal, ulong maxCount) =>
        await (await CurrentAsync().ConfigureAwait(false)).ListStreamsAsync(afterOrdinal, maxCount)
            .ConfigureAwait(false);

    public async Task SaveSnapshotAsync(string stream, ulong revision, long timestampUs, ReadOnlyMemory<byte> data) =>
        await (await CurrentAsync().ConfigureAwait(false)).SaveSnapshotAsync(stream, revision, timestampUs, data)
            .ConfigureAwait(false);

    public async Task<SnapshotRecord?> LoadSnapshotAsync(string stream, SnapshotCriteria criteria) =>
        await (await CurrentAsync().ConfigureAwait(false)).LoadSnapshotAsync(stream, criteria).ConfigureAwait(false);

    public async Task DeleteSnapshotAsync(string stream, ulong revision) =>
        await (await CurrentAsync().ConfigureAwait(false)).DeleteSnapshotAsync(stream, revision).ConfigureAwait(false);

    public async Task DeleteSnapshotsAsync(string stream, SnapshotCriteria criteria) =>
        await (await CurrentAsync().ConfigureAwait(false)).DeleteSnapshotsAsync(stream, criteria).ConfigureAwait(false);

    public ICairnSubscription Subscribe(SubscriptionKind kind, string name, ulong after) =>
        CurrentAsync().GetAwaiter().GetResult().Subscribe(kind, name, after);

    public void Dispose()
    {
        _gate.Wait();
        try
        {
            _disposed = true;
            _current.Dispose();
        }
        finally
        {
            _gate.Release();
        }
    }
}
