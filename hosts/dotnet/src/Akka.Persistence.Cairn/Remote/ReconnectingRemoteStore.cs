using Akka.Persistence.Cairn.Client;

namespace Akka.Persistence.Cairn.Remote;

/// <summary>
/// The remote store the plugin uses: connects lazily and asynchronously, and
/// opens a new connection when the old one has broken. Creating it connects
/// nothing (the journal's constructor runs on a dispatcher thread, which must
/// never wait on the network); the first operation starts the connection and
/// awaits it. The call that meets a break fails (its outcome is unknown to the
/// client, so it is not retried), and the next call connects again. Open
/// subscriptions end with the connection; their queries fail and are restarted
/// by their owners.
/// <para>
/// Order: requests are handed to the connection in the order the operations
/// were called, also while a connection is being made (such calls queue in
/// call order and are sent in that order once it is up), so the server's
/// per-stream ordering guarantee (docs/server.md) carries through to callers:
/// two operations on one stream called one after the other take effect in
/// that order.
/// </para>
/// </summary>
public sealed class ReconnectingRemoteStore : ICairnStore
{
    private readonly CairnSettings _settings;
    private readonly object _gate = new();
    // The current connection, or the one being made; null before first use.
    private Task<RemoteStore>? _connection;
    // Completes once every call that went the slow way (waiting for a
    // connection) has been handed to its connection; until then later calls
    // queue behind it, so nothing overtakes.
    private Task _handedOver = Task.CompletedTask;
    private bool _disposed;

    public ReconnectingRemoteStore(CairnSettings settings) => _settings = settings;

    /// <summary>Under <see cref="_gate"/>: the connection to use, starting a new
    /// one when there is none yet, the last attempt failed or it broke.</summary>
    private Task<RemoteStore> ConnectionLocked()
    {
        if (_disposed) throw new CairnException(CairnStatus.Closed, "the Cairn remote store is closed");
        var current = _connection;
        if (current != null && !current.IsFaulted && !current.IsCanceled &&
            !(current.IsCompletedSuccessfully && current.Result.IsBroken))
            return current;
        if (current is { IsCompletedSuccessfully: true })
        {
            // Broken: its reader has ended; let go of it off this thread.
            var old = current.Result;
            _ = Task.Run(old.Dispose);
        }
        _connection = RemoteStore.ConnectAsync(_settings);
        return _connection;
    }

    private Task<T> Run<T>(Func<RemoteStore, Task<T>> operation)
    {
        // Fast path: connected and nothing queued ahead; the operation hands
        // its request to the connection before returning.
        var connection = Volatile.Read(ref _connection);
        if (Volatile.Read(ref _handedOver).IsCompleted && connection is { IsCompletedSuccessfully: true } &&
            !connection.Result.IsBroken)
            return operation(connection.Result);
        lock (_gate)
        {
            try
            {
                connection = ConnectionLocked();
            }
            catch (Exception ex)
            {
                return Task.FromException<T>(ex);
            }
            var step = HandOverAsync(_handedOver, connection, operation);
            Volatile.Write(ref _handedOver, step);
            return step.Unwrap();
        }
    }

    private Task Run(Func<RemoteStore, Task> operation) =>
        Run(async store =>
        {
            await operation(store).ConfigureAwait(false);
            return true;
        });

    /// <summary>Waits for the calls queued before this one to be handed over,
    /// then for the connection, then starts <paramref name="operation"/>
    /// (which sends its request before its first await) and returns its task.</summary>
    private static async Task<Task<T>> HandOverAsync<T>(Task before, Task<RemoteStore> connection,
        Func<RemoteStore, Task<T>> operation)
    {
        try
        {
            await before.ConfigureAwait(false);
        }
        catch
        {
            // The call before failed to connect; it reports that itself.
        }
        var store = await connection.ConfigureAwait(false);
        return operation(store);
    }

    public Task<AppendResult> AppendAsync(string stream, ExpectedRevision expected,
        IReadOnlyList<EventData> events) =>
        Run(s => s.AppendAsync(stream, expected, events));

    /// <summary>An append whose task completes in the connection's read
    /// loop (<see cref="RemoteStore.AppendAsync(string, ExpectedRevision, IReadOnlyList{EventData}, bool)"/>):
    /// for the journal's lanes only.</summary>
    internal Task<AppendResult> AppendOnReaderAsync(string stream, ExpectedRevision expected,
        IReadOnlyList<EventData> events) =>
        Run(s => s.AppendAsync(stream, expected, events, completeOnReader: true));

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string stream, ulong fromRevision,
        ulong toRevision, ulong maxCount) =>
        Run(s => s.ReadStreamAsync(stream, fromRevision, toRevision, maxCount));

    public Task<IReadOnlyList<RecordedEvent>> ReadTagAsync(string tag, ulong afterPosition, ulong maxCount) =>
        Run(s => s.ReadTagAsync(tag, afterPosition, maxCount));

    public Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(ulong afterPosition, ulong maxCount) =>
        Run(s => s.ReadAllAsync(afterPosition, maxCount));

    public Task<ulong> HeadRevisionAsync(string stream) => Run(s => s.HeadRevisionAsync(stream));

    public Task<ulong> HeadPositionAsync() => Run(s => s.HeadPositionAsync());

    public Task DeleteToAsync(string stream, ulong revision) => Run(s => s.DeleteToAsync(stream, revision));

    public Task<IReadOnlyList<StreamInfo>> ListStreamsAsync(ulong afterOrdinal, ulong maxCount) =>
        Run(s => s.ListStreamsAsync(afterOrdinal, maxCount));

    public Task SaveSnapshotAsync(string stream, ulong revision, long timestampUs, ReadOnlyMemory<byte> data) =>
        Run(s => s.SaveSnapshotAsync(stream, revision, timestampUs, data));

    public Task<SnapshotRecord?> LoadSnapshotAsync(string stream, SnapshotCriteria criteria) =>
        Run(s => s.LoadSnapshotAsync(stream, criteria));

    public Task DeleteSnapshotAsync(string stream, ulong revision) => Run(s => s.DeleteSnapshotAsync(stream, revision));

    public Task DeleteSnapshotsAsync(string stream, SnapshotCriteria criteria) =>
        Run(s => s.DeleteSnapshotsAsync(stream, criteria));

    public Task<ICairnSubscription> SubscribeAsync(SubscriptionKind kind, string name, ulong after) =>
        Run(s => s.SubscribeAsync(kind, name, after));

    public void Dispose()
    {
        Task<RemoteStore>? connection;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            connection = _connection;
        }
        if (connection == null) return;
        if (connection.IsCompleted)
        {
            if (connection.IsCompletedSuccessfully) connection.Result.Dispose();
            return;
        }
        // Still connecting: close it when it is up.
        connection.ContinueWith(t => t.Result.Dispose(), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
    }
}
