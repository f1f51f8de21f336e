using Akka.Persistence.Cairn.Client;
using Akka.Streams;
using Akka.Streams.Stage;

namespace Akka.Persistence.Cairn.Query;

/// <summary>Where a query's events come from: batches until it ends.</summary>
internal interface IEventFeed : IDisposable
{
    /// <summary>The next non-empty batch, or null when the feed has ended.</summary>
    Task<IReadOnlyList<RecordedEvent>?> NextAsync(CancellationToken cancellation);

    /// <summary>True once the feed knows it has no more events (its last
    /// batch was the last): the source then completes as soon as its buffer
    /// is empty, without waiting for a further pull.</summary>
    bool Ended { get; }
}

/// <summary>A live feed: the store's subscription pushes each commit; ends
/// after an event for which <c>isLast</c> holds (never, if null). The
/// subscription is opened on the first fetch (opening one may wait for the
/// server's connection; nothing here blocks a thread).</summary>
internal sealed class LiveFeed : IEventFeed
{
    private readonly Func<Task<ICairnSubscription>> _subscribe;
    private readonly int _batch;
    private readonly Func<RecordedEvent, bool>? _isLast;
    private Task<ICairnSubscription>? _subscription;
    private bool _ended;

    public LiveFeed(Func<Task<ICairnSubscription>> subscribe, int batch, Func<RecordedEvent, bool>? isLast)
    {
        _subscribe = subscribe;
        _batch = batch;
        _isLast = isLast;
    }

    public bool Ended => _ended;

    public async Task<IReadOnlyList<RecordedEvent>?> NextAsync(CancellationToken cancellation)
    {
        if (_ended) return null;
        _subscription ??= _subscribe();
        var subscription = await _subscription.ConfigureAwait(false);
        var events = await subscription.NextAsync(_batch, cancellation).ConfigureAwait(false);
        if (_isLast == null) return events;
        for (int i = 0; i < events.Count; i++)
        {
            if (_isLast(events[i]))
            {
                _ended = true;
                return events.Take(i + 1).ToList();
            }
        }
        return events;
    }

    public void Dispose() => DisposeWhenOpen(_subscription);

    /// <summary>Disposes a subscription that may still be opening.</summary>
    internal static void DisposeWhenOpen(Task<ICairnSubscription>? subscription) =>
        subscription?.ContinueWith(t => t.Result.Dispose(), CancellationToken.None,
            TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
}

/// <summary>A "current" feed: pages of a read until the pager says it is done.</summary>
internal sealed class PagedFeed : IEventFeed
{
    private readonly Func<Task<(IReadOnlyList<RecordedEvent> Events, bool Done)>> _page;
    private bool _done;

    public PagedFeed(Func<Task<(IReadOnlyList<RecordedEvent> Events, bool Done)>> page) => _page = page;

    public bool Ended => _done;

    public async Task<IReadOnlyList<RecordedEvent>?> NextAsync(CancellationToken cancellation)
    {
        while (!_done)
        {
            cancellation.ThrowIfCancellationRequested();
            var (events, done) = await _page().ConfigureAwait(false);
            _done = done;
            if (events.Count > 0) return events;
        }
        return null;
    }

    public void Dispose()
    {
    }
}

/// <summary>
/// An Akka Streams source over an <see cref="IEventFeed"/>: fetches a batch
/// only when downstream pulls and its buffer is empty (back-pressure reaches
/// the store's cursor), maps each event to zero or more items, and disposes the feed
/// when the stream ends, fails or is cancelled.
/// </summary>
internal sealed class FeedSource<T> : GraphStage<SourceShape<T>> where T : class
{
    private readonly Func<IEventFeed> _open;
    private readonly Func<RecordedEvent, IEnumerable<T>> _map;
    private readonly string _name;

    public FeedSource(string name, Func<IEventFeed> open, Func<RecordedEvent, IEnumerable<T>> map)
    {
        _name = name;
        _open = open;
        _map = map;
        Shape = new SourceShape<T>(Out);
    }

    public Outlet<T> Out { get; } = new("Cairn.Feed.Out");
    public override SourceShape<T> Shape { get; }
    protected override Attributes InitialAttributes => Attributes.CreateName(_name);

    protected override GraphStageLogic CreateLogic(Attributes inheritedAttributes) => new Logic(this);

    private sealed class Logic : OutGraphStageLogic
    {
        private readonly FeedSource<T> _stage;
        private readonly Queue<T> _buffer = new();
        private readonly CancellationTokenSource _stop = new();
        private IEventFeed? _feed;
        private Action<Task<IReadOnlyList<RecordedEvent>?>>? _onBatch;
        private bool _fetching;
        private bool _ended;

        public Logic(FeedSource<T> stage) : base(stage.Shape)
        {
            _stage = stage;
            SetHandler(stage.Out, this);
        }

        public override void PreStart()
        {
            _onBatch = GetAsyncCallback<Task<IReadOnlyList<RecordedEvent>?>>(OnBatch);
            try
            {
                _feed = _stage._open();
            }
            catch (Exception ex)
            {
                FailStage(ex);
            }
        }

        public override void OnPull() => Drive();

        /// <summary>Pushes what downstream asked for; when the buffer is
        /// empty, completes if the feed has ended, or else fetches the next
        /// batch at once, demand or not (one batch read ahead). So a source
        /// completes right after its last element, also when downstream
        /// asked for exactly that many.</summary>
        private void Drive()
        {
            if (_buffer.Count > 0 && IsAvailable(_stage.Out)) Push(_stage.Out, _buffer.Dequeue());
            if (_buffer.Count > 0) return;
            if (_ended) CompleteStage();
            else Fetch();
        }

        private void Fetch()
        {
            if (_fetching || _ended || _feed == null) return;
            _fetching = true;
            var callback = _onBatch!;
            _feed.NextAsync(_stop.Token).ContinueWith(callback, TaskContinuationOptions.ExecuteSynchronously);
        }

        private void OnBatch(Task<IReadOnlyList<RecordedEvent>?> task)
        {
            _fetching = false;
            if (task.IsCanceled || _stop.IsCancellationRequested) return;
            if (task.IsFaulted)
            {
                FailStage(task.Exception!.GetBaseException());
                return;
            }
            var events = task.Result;
            if (events == null)
            {
                _ended = true;
            }
            else
            {
                try
                {
                    foreach (var ev in events)
                    {
                        foreach (var item in _stage._map(ev)) _buffer.Enqueue(item);
                    }
                }
                catch (Exception ex)
                {
                    FailStage(ex);
                    return;
                }
                _ended = _feed?.Ended ?? true;
            }
            Drive();
        }

        public override void PostStop()
        {
            _stop.Cancel();
            var feed = _feed;
            _feed = null;
            // Disposing a live feed joins its cursor thread (woken at once by
            // the cancel); keep that off the stream's thread.
            if (feed != null) Task.Run(feed.Dispose);
        }
    }
}
