namespace Akka.Persistence.Cairn.Client;

/// <summary>
/// What the journal, snapshot store and read journal need from a Cairn store;
/// implemented in-process over libcairn-c (<see cref="Embedded.EmbeddedStore"/>)
/// and over the cairnd protocol. Every member is safe from any thread. Failures
/// are <see cref="CairnException"/>s carrying the store's code and message.
/// </summary>
public interface ICairnStore : IDisposable
{
    /// <summary>Appends <paramref name="events"/> as one atomic batch; a head
    /// other than <paramref name="expected"/> fails with WrongExpectedRevision
    /// and writes nothing.</summary>
    Task<AppendResult> AppendAsync(string stream, ExpectedRevision expected, IReadOnlyList<EventData> events);

    /// <summary>Events with from &lt;= revision &lt;= to, at most max, in order,
    /// skipping deleted ones. An unknown stream has none.</summary>
    Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string stream, ulong fromRevision, ulong toRevision, ulong maxCount);

    /// <summary>Events tagged <paramref name="tag"/> with position &gt; after.</summary>
    Task<IReadOnlyList<RecordedEvent>> ReadTagAsync(string tag, ulong afterPosition, ulong maxCount);

    /// <summary>All events with position &gt; after.</summary>
    Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(ulong afterPosition, ulong maxCount);

    /// <summary>The highest revision ever appended to the stream (0: none); never goes down.</summary>
    Task<ulong> HeadRevisionAsync(string stream);

    /// <summary>The highest committed position.</summary>
    Task<ulong> HeadPositionAsync();

    /// <summary>Logically deletes revisions &lt;= revision (clamped to the head).</summary>
    Task DeleteToAsync(string stream, ulong revision);

    Task<IReadOnlyList<StreamInfo>> ListStreamsAsync(ulong afterOrdinal, ulong maxCount);

    Task SaveSnapshotAsync(string stream, ulong revision, long timestampUs, ReadOnlyMemory<byte> data);
    Task<SnapshotRecord?> LoadSnapshotAsync(string stream, SnapshotCriteria criteria);
    Task DeleteSnapshotAsync(string stream, ulong revision);
    Task DeleteSnapshotsAsync(string stream, SnapshotCriteria criteria);

    /// <summary>A live cursor: catches up from <paramref name="after"/>
    /// (exclusive), then follows commits; the store pushes, nothing polls.
    /// Asynchronous, as every member: remote, opening one may first have to
    /// connect, and no caller's thread is held while it does.</summary>
    Task<ICairnSubscription> SubscribeAsync(SubscriptionKind kind, string name, ulong after);
}

/// <summary>A live cursor over a stream, a tag or all events.</summary>
public interface ICairnSubscription : IDisposable
{
    /// <summary>Completes with the next events (at least one, at most
    /// <paramref name="maxCount"/>) as soon as the store has them. Cancelling
    /// <paramref name="cancellation"/> ends the wait with
    /// <see cref="OperationCanceledException"/>. One caller at a time.</summary>
    Task<IReadOnlyList<RecordedEvent>> NextAsync(int maxCount, CancellationToken cancellation);
}
