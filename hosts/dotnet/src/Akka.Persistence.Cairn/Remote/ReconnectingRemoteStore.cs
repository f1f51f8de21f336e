using System.Diagnostics;
using Akka.Persistence.Cairn.Client;
using Google.Protobuf;

namespace Akka.Persistence.Cairn.Remote;

/// <summary>
/// The remote store the plugin uses: connects lazily and asynchronously, and
/// opens a new connection when the old one has broken. Creating it connects
/// nothing (the journal's constructor runs on a dispatcher thread, which must
/// never wait on the network); the first operation starts the connection and
/// awaits it. An append whose connection breaks is sent again on a new one
/// with the same idempotency key (within the retry bounds below; the server
/// answers a key it has seen with the original result); any other call that
/// meets a break fails (its outcome is unknown to the client), and the next
/// call connects again. Open subscriptions end with the connection; their
/// queries fail and are restarted by their owners.
/// <para>
/// Order: requests are handed to the connection in the order the operations
/// were called, also while a connection is being made (such calls queue in
/// call order and are sent in that order once it is up), so the server's
/// per-stream ordering guarantee (docs/server.md) carries through to callers:
/// two operations on one stream called one after the other take effect in
/// that order.
/// </para>
/// <para>
/// Replication (docs/akka.md, "Replica groups"): every operation goes over one
/// connection, to the group's leader when it is known. At connect the node is
/// asked who leads (server_info, when <c>remote.find-leader</c> is on, or auto with several
/// endpoints, and the client may ask); a replica naming a leader's address is left for the leader.
/// A write answered NOT_LEADER is retried at the leader the answer names (the connection moves
/// there for every later call), or, with no leader known, after a pause at the next configured
/// endpoint; at most <c>remote.leader-retries</c> retries, none begun after
/// <c>remote.leader-retry-budget</c>. An append carries one idempotency key
/// on all its tries. Reads are not retried: a replica answers them from its
/// committed records. Subscriptions stay on the connection they were opened
/// on; a connection left for the leader is closed once it has none (after
/// the request timeout, for answers still under way).
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
    // Where the next connection goes: the configured endpoint or the leader
    // a node named.
    private RemoteEndpoint _target;
    // Connections left for the leader that still carry subscriptions.
    private readonly List<RemoteStore> _retired = new();

    public ReconnectingRemoteStore(CairnSettings settings) {
      _settings = settings;
      _target = settings.Endpoints[0];
    }

    /// <summary>The node the current connection goes to (or the next one will).</summary>
    public RemoteEndpoint Target {
      get { lock (_gate) return _target; }
    }

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
        _connection = ConnectAsync(_target);
        return _connection;
    }

    /// <summary>Connects to <paramref name="first"/>, else to the other
    /// configured endpoints in order; then, if the node is a replica that
    /// names its leader's address, to the leader.</summary>
    private async Task<RemoteStore> ConnectAsync(RemoteEndpoint first) {
      var order = new List<RemoteEndpoint> { first };
      order.AddRange(_settings.Endpoints.Where(e => e != first));
      RemoteStore? store = null;
      CairnException? firstError = null;
      var failed = new List<string>();
      foreach (var endpoint in order) {
        try {
          store = await RemoteStore.ConnectAsync(_settings, endpoint).ConfigureAwait(false);
          break;
        } catch (CairnException ex) when (ex.Status == CairnStatus.Io) {
          firstError ??= ex;
          failed.Add(endpoint.ToString());
        }
      }
      if (store == null) {
        throw order.Count == 1
            ? firstError!
            : new CairnException(
                  CairnStatus.Io,
                  $"no configured cairnd answered ({string.Join(", ", failed)}); the first: {firstError!.StoreMessage}");
      }
      if (_settings.FindLeader)
        store = await ToLeaderAsync(store).ConfigureAwait(false);
      lock (_gate) _target = store.Endpoint;
      return store;
    }

    private async Task<RemoteStore> ToLeaderAsync(RemoteStore store) {
      LeaderHint leader;
      try {
        (string role, leader) = await store.ServerInfoAsync().ConfigureAwait(false);
        if (role != "replica" || !leader.Known || leader.Address.Length == 0)
          return store;
      } catch (CairnException) {
        // Not allowed to ask (server_info needs the admin right) or an
        // old server: writes find the leader through NOT_LEADER instead.
        return store;
      }
      RemoteEndpoint at;
      try {
        at = RemoteEndpoint.Parse(leader.Address, $"the leader address {store.Endpoint} names");
      } catch (Akka.Configuration.ConfigurationException) {
        return store;
      }
      if (at == store.Endpoint)
        return store;
      try {
        var there = await RemoteStore.ConnectAsync(_settings, at).ConfigureAwait(false);
        store.Dispose();
        return there;
      } catch (CairnException) {
        // The leader is not reachable from here: stay; a write will say.
        return store;
      }
    }

    /// <summary>Runs <paramref name="operation"/> and, while it fails with
    /// NOT_LEADER, again at the leader the answer names (or, with none known,
    /// after a pause, at the next configured endpoint): at most
    /// <c>remote.leader-retries</c> retries, none begun after
    /// <c>remote.leader-retry-budget</c>. With <paramref name="retryLost"/>
    /// (appends, which carry an idempotency key) a call whose connection
    /// broke after it was handed over is retried too, on a new connection,
    /// within the same bounds. The first try is handed to the connection
    /// before this returns (the order guarantee).</summary>
    private async Task<T> FollowLeader<T>(Func<RemoteStore, Task<T>> operation,
                                          bool retryLost = false) {
      Stopwatch? clock = null;
      bool last = false;  // the pause ran to the end of the budget
      for (int attempt = 0;; attempt++) {
        RemoteStore? used = null;
        try {
          return await Run(s => {
                   used = s;
                   return operation(s);
                 })
              .ConfigureAwait(false);
        } catch (CairnNotLeaderException ex) {
          clock ??= Stopwatch.StartNew();
          if (last || attempt >= _settings.LeaderRetries ||
              clock.Elapsed >= _settings.LeaderRetryWindow) {
            throw new CairnNotLeaderException(
                $"{ex.StoreMessage} (gave up after {attempt} {(attempt == 1 ? "retry" : "retries")} " +
                    $"in {clock.Elapsed.TotalSeconds:0.#} s; remote.leader-retries = {_settings.LeaderRetries}, " +
                    $"remote.leader-retry-budget = {_settings.LeaderRetryWindow.TotalSeconds:0.#} s)",
                ex.Leader);
          }
          TimeSpan pause = Redirect(used, ex.Leader, attempt);
          if (pause > TimeSpan.Zero) {
            var left = _settings.LeaderRetryWindow - clock.Elapsed;
            last = pause >= left;
            if (left > TimeSpan.Zero)
              await Task.Delay(last ? left : pause).ConfigureAwait(false);
          }
        } catch (CairnException ex)
            when (retryLost && used != null && ex.Status == CairnStatus.Io &&
                  ex is not CairnNotLeaderException) {
          // The connection broke with the append handed over: it may
          // or may not have been written; the key tells the server.
          clock ??= Stopwatch.StartNew();
          if (attempt >= _settings.LeaderRetries || clock.Elapsed >= _settings.LeaderRetryWindow) {
            throw new CairnException(
                CairnStatus.Io,
                $"{ex.StoreMessage} (gave up after {attempt} {(attempt == 1 ? "retry" : "retries")}; " +
                    "the append may or may not have been written)");
          }
        }
      }
    }

    /// <summary>Points later calls at the leader <paramref name="leader"/>
    /// names, or with none known at the next configured endpoint; returns
    /// how long to wait before the retry (none when a leader is known).
    /// Only the first refused call on a connection moves it: the others
    /// retry on the connection it made.</summary>
    private TimeSpan Redirect(RemoteStore? refused, LeaderHint? leader, int attempt) {
      RemoteEndpoint? next = null;
      TimeSpan pause = TimeSpan.Zero;
      if (leader is { Known : true } && leader.Address.Length > 0) {
        try {
          next =
              RemoteEndpoint.Parse(leader.Address, $"the leader address {refused?.Endpoint} names");
        } catch (Akka.Configuration.ConfigurationException ex) {
          throw new CairnNotLeaderException($"{ex.Message}; cannot follow it", leader);
        }
      }
      if (next == null || next == refused?.Endpoint) {
        // No leader known (an election), or the node names itself: wait,
        // then try the next configured node.
        var ticks = _settings.LeaderPause.Ticks * (1L << Math.Min(attempt, 5));
        pause = TimeSpan.FromTicks(ticks);
        var all = _settings.Endpoints;
        int at = refused == null ? -1 : all.ToList().IndexOf(refused.Endpoint);
        next = all.Count > 1 ? all[(at + 1) % all.Count] : refused?.Endpoint;
      }
      lock (_gate) {
        if (_disposed || refused == null || next == null)
          return pause;
        var current = _connection;
        if (current is not { IsCompletedSuccessfully : true } || current.Result != refused)
          return pause;
        if (next == refused.Endpoint)
          return pause;
        _target = next;
        _connection = null;
        Retire(refused);
      }
      return pause;
    }

    /// <summary>Under <see cref="_gate"/>: closes a connection left for
    /// another node once answers under way had their time; one with open
    /// subscriptions stays until the store closes (they read on there).</summary>
    private void Retire(RemoteStore old) {
      if (old.HasSubscriptions) {
        _retired.Add(old);
        return;
      }
      _ = Task.Delay(_settings.RequestTimeout)
              .ContinueWith(
                  _ => old.Dispose(), TaskScheduler.Default);
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
                // (ConnectionLocked starts a new one when Redirect dropped it.)
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
                                          IReadOnlyList<EventData> events) {
      var key = RemoteStore.NewIdempotencyKey();
      return FollowLeader(
          s => s.AppendAsync(stream, expected, events, key, completeOnReader: false),
          retryLost: true);
    }

    /// <summary>An append whose task completes in the connection's read
    /// loop (<see cref="RemoteStore.AppendAsync(string, ExpectedRevision, IReadOnlyList{EventData},
    /// Google.Protobuf.ByteString, bool)"/>): for the journal's lanes only.</summary>
    internal Task<AppendResult> AppendOnReaderAsync(string stream, ExpectedRevision expected,
                                                    IReadOnlyList<EventData> events) {
      var key = RemoteStore.NewIdempotencyKey();
      return FollowLeader(s => s.AppendAsync(stream, expected, events, key, completeOnReader: true),
                          retryLost: true);
    }

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string stream, ulong fromRevision,
        ulong toRevision, ulong maxCount) =>
        Run(s => s.ReadStreamAsync(stream, fromRevision, toRevision, maxCount));

    public Task<IReadOnlyList<RecordedEvent>> ReadTagAsync(string tag, ulong afterPosition, ulong maxCount) =>
        Run(s => s.ReadTagAsync(tag, afterPosition, maxCount));

    public Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(ulong afterPosition, ulong maxCount) =>
        Run(s => s.ReadAllAsync(afterPosition, maxCount));

    public Task<ulong> HeadRevisionAsync(string stream) => Run(s => s.HeadRevisionAsync(stream));

    public Task<ulong> HeadPositionAsync() => Run(s => s.HeadPositionAsync());

    public Task DeleteToAsync(string stream, ulong revision) => FollowLeader(async s => {
      await s.DeleteToAsync(stream, revision).ConfigureAwait(false);
      return true;
    });

    public Task<IReadOnlyList<StreamInfo>> ListStreamsAsync(ulong afterOrdinal, ulong maxCount) =>
        Run(s => s.ListStreamsAsync(afterOrdinal, maxCount));

    public Task SaveSnapshotAsync(string stream, ulong revision, long timestampUs,
                                  ReadOnlyMemory<byte> data) => FollowLeader(async s => {
      await s.SaveSnapshotAsync(stream, revision, timestampUs, data).ConfigureAwait(false);
      return true;
    });

    public Task<SnapshotRecord?> LoadSnapshotAsync(string stream, SnapshotCriteria criteria) =>
        Run(s => s.LoadSnapshotAsync(stream, criteria));

    public Task DeleteSnapshotAsync(string stream, ulong revision) => FollowLeader(async s => {
      await s.DeleteSnapshotAsync(stream, revision).ConfigureAwait(false);
      return true;
    });

    public Task DeleteSnapshotsAsync(string stream,
                                     SnapshotCriteria criteria) => FollowLeader(async s => {
      await s.DeleteSnapshotsAsync(stream, criteria).ConfigureAwait(false);
      return true;
    });

    public Task<ICairnSubscription> SubscribeAsync(SubscriptionKind kind, string name, ulong after) =>
        Run(s => s.SubscribeAsync(kind, name, after));

    public void Dispose()
    {
        Task<RemoteStore>? connection;
        List<RemoteStore> retired;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            connection = _connection;
            retired = _retired.ToList();
            _retired.Clear();
        }
        foreach (var old in retired) old.Dispose();
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
