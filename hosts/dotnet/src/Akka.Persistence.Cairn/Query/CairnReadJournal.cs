using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Query;
using Akka.Streams.Dsl;

namespace Akka.Persistence.Cairn.Query;

/// <summary>Makes <see cref="CairnReadJournal"/> for <c>PersistenceQuery.ReadJournalFor</c>.</summary>
public sealed class CairnReadJournalProvider : IReadJournalProvider
{
    private readonly ExtendedActorSystem _system;
    private readonly Config _config;

    public CairnReadJournalProvider(ExtendedActorSystem system, Config config)
    {
        _system = system;
        _config = config;
    }

    public IReadJournal GetReadJournal() => new CairnReadJournal(_system, _config);
}

/// <summary>
/// Queries over a Cairn store. Offsets are <see cref="Sequence"/> values of
/// the store's gap-free global position and are exclusive: a query from
/// Sequence(n) starts with the first event after position n (NoOffset is
/// Sequence(0)). Live queries are pushed by the store's subscriptions (a
/// commit wakes them), never polled; current queries end at the head the
/// store had when they started.
/// </summary>
public sealed class CairnReadJournal :
    IPersistenceIdsQuery, ICurrentPersistenceIdsQuery,
    IEventsByPersistenceIdQuery, ICurrentEventsByPersistenceIdQuery,
    IEventsByTagQuery, ICurrentEventsByTagQuery,
    IAllEventsQuery, ICurrentAllEventsQuery
{
    /// <summary>The identifier to pass to ReadJournalFor.</summary>
    public const string Identifier = "akka.persistence.query.journal.cairn";

    private readonly ICairnStore _store;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly int _batch;
    private readonly Akka.Persistence.Journal.EventAdapters _adapters;

    public CairnReadJournal(ExtendedActorSystem system, Config config)
    {
        var storeConfigPath = config.GetString("store-config", "akka.persistence.journal.cairn");
        var storeConfig = system.Settings.Config.GetConfig(storeConfigPath);
        if (storeConfig.IsNullOrEmpty())
            throw new ConfigurationException(
                $"Cairn read journal: store-config = \"{storeConfigPath}\" names no configuration section");
        _batch = config.GetInt("max-buffer-size", 512);
        if (_batch < 1)
            throw new ConfigurationException($"Cairn read journal: max-buffer-size = {_batch} must be at least 1");
        var lease = CairnStores.Acquire(CairnSettings.Create(storeConfig));
        system.RegisterOnTermination(lease.Dispose);
        _store = lease.Store;
        _serialization = system.Serialization;
        var writePlugin = config.GetString("write-plugin", "");
        _adapters = Persistence.Instance.Apply(system)
            .AdaptersFor(string.IsNullOrWhiteSpace(writePlugin) ? storeConfigPath : writePlugin);
    }

    // ---- by persistence id ---------------------------------------------------

    public Source<EventEnvelope, NotUsed> EventsByPersistenceId(string persistenceId, long fromSequenceNr,
        long toSequenceNr)
    {
        CheckName(persistenceId, "persistenceId");
        ulong from = (ulong)Math.Max(1, fromSequenceNr);
        if (toSequenceNr < (long)from) return Source.Empty<EventEnvelope>();
        ulong to = (ulong)toSequenceNr;
        return Source.FromGraph(new FeedSource<EventEnvelope>($"cairn-events-by-pid-{persistenceId}",
            () => new LiveFeed(() => _store.SubscribeAsync(SubscriptionKind.Stream, persistenceId, from - 1), _batch,
                to == long.MaxValue ? null : ev => ev.Revision >= to),
            ev => ev.Revision <= to ? ToEnvelopes(ev) : Array.Empty<EventEnvelope>()));
    }

    public Source<EventEnvelope, NotUsed> CurrentEventsByPersistenceId(string persistenceId, long fromSequenceNr,
        long toSequenceNr)
    {
        CheckName(persistenceId, "persistenceId");
        ulong from = (ulong)Math.Max(1, fromSequenceNr);
        if (toSequenceNr < (long)from) return Source.Empty<EventEnvelope>();
        return Source.FromGraph(new FeedSource<EventEnvelope>($"cairn-current-events-by-pid-{persistenceId}",
            () =>
            {
                ulong? last = null;
                ulong next = from;
                return new PagedFeed(async () =>
                {
                    last ??= Math.Min((ulong)toSequenceNr,
                        await _store.HeadRevisionAsync(persistenceId).ConfigureAwait(false));
                    if (next > last) return (Array.Empty<RecordedEvent>(), true);
                    var page = await _store.ReadStreamAsync(persistenceId, next, last.Value, (ulong)_batch)
                        .ConfigureAwait(false);
                    if (page.Count == 0) return (page, true);
                    next = page[^1].Revision + 1;
                    return (page, page.Count < _batch || next > last);
                });
            },
            ToEnvelopes));
    }

    // ---- by tag ------------------------------------------------------------------

    public Source<EventEnvelope, NotUsed> EventsByTag(string tag, Offset? offset = null)
    {
        CheckName(tag, "tag");
        ulong after = After(offset);
        return Source.FromGraph(new FeedSource<EventEnvelope>($"cairn-events-by-tag-{tag}",
            () => new LiveFeed(() => _store.SubscribeAsync(SubscriptionKind.Tag, tag, after), _batch, null), ToEnvelopes));
    }

    public Source<EventEnvelope, NotUsed> CurrentEventsByTag(string tag, Offset? offset = null)
    {
        CheckName(tag, "tag");
        ulong after = After(offset);
        return Source.FromGraph(new FeedSource<EventEnvelope>($"cairn-current-events-by-tag-{tag}",
            () => CurrentByPosition(after, a => _store.ReadTagAsync(tag, a, (ulong)_batch)), ToEnvelopes));
    }

    // ---- all events ----------------------------------------------------------------

    public Source<EventEnvelope, NotUsed> AllEvents(Offset? offset = null)
    {
        ulong after = After(offset);
        return Source.FromGraph(new FeedSource<EventEnvelope>("cairn-all-events",
            () => new LiveFeed(() => _store.SubscribeAsync(SubscriptionKind.All, "", after), _batch, null), ToEnvelopes));
    }

    public Source<EventEnvelope, NotUsed> CurrentAllEvents(Offset offset)
    {
        ulong after = After(offset);
        return Source.FromGraph(new FeedSource<EventEnvelope>("cairn-current-all-events",
            () => CurrentByPosition(after, a => _store.ReadAllAsync(a, (ulong)_batch)), ToEnvelopes));
    }

    // ---- persistence ids -------------------------------------------------------------

    public Source<string, NotUsed> CurrentPersistenceIds()
    {
        return Source.FromGraph(new FeedSource<string>("cairn-current-persistence-ids",
            () => new StreamListFeed(_store, _batch, liveAfterHead: false), ev => new[] { ev.Stream }));
    }

    public Source<string, NotUsed> PersistenceIds()
    {
        return Source.FromGraph(new FeedSource<string>("cairn-persistence-ids",
            () => new StreamListFeed(_store, _batch, liveAfterHead: true), ev => new[] { ev.Stream }));
    }

    // ---- helpers -----------------------------------------------------------------------

    private PagedFeed CurrentByPosition(ulong after, Func<ulong, Task<IReadOnlyList<RecordedEvent>>> read)
    {
        ulong? head = null;
        ulong cursor = after;
        return new PagedFeed(async () =>
        {
            head ??= await _store.HeadPositionAsync().ConfigureAwait(false);
            if (cursor >= head) return (Array.Empty<RecordedEvent>(), true);
            var page = await read(cursor).ConfigureAwait(false);
            if (page.Count == 0) return (page, true);
            var upToHead = page.Where(e => e.Position <= head).ToList();
            cursor = page[^1].Position;
            return (upToHead, upToHead.Count < page.Count || page.Count < _batch || cursor >= head);
        });
    }

    /// <summary>The event as the journal's event adapters read it (as a
    /// recovering actor would see it): none, one or several envelopes, all
    /// with the event's offset and sequence number.</summary>
    private IEnumerable<EventEnvelope> ToEnvelopes(RecordedEvent ev)
    {
        var facts = PayloadEnvelope.DecodeEventFacts(ev.Metadata, ev.Stream, ev.Revision);
        object payload = PayloadEnvelope.Deserialize(_serialization, ev.Data, facts);
        var tags = ev.Tags.ToArray();
        foreach (var adapted in _adapters.Get(payload.GetType()).FromJournal(payload, facts.PersistentManifest).Events)
        {
            yield return new EventEnvelope(new Sequence((long)ev.Position), ev.Stream, (long)ev.Revision, adapted,
                facts.TimestampTicks, tags);
        }
    }

    private static ulong After(Offset? offset) => offset switch
    {
        null => 0,
        NoOffset => 0,
        Sequence s when s.Value >= 0 => (ulong)s.Value,
        Sequence s => throw new ArgumentException(
            $"Cairn read journal: offset Sequence({s.Value}) is negative; positions start at 1", nameof(offset)),
        _ => throw new ArgumentException(
            $"Cairn read journal: offset {offset.GetType().Name} is not supported; use Sequence (the store's " +
            "global position, exclusive) or NoOffset", nameof(offset)),
    };

    private static void CheckName(string name, string what)
    {
        if (string.IsNullOrEmpty(name))
            throw new ArgumentException($"Cairn read journal: {what} must not be empty", what);
    }

    /// <summary>Persistence ids as one-event-per-stream batches: the current
    /// streams page by page, then (live) every stream first seen in the
    /// store's all-events subscription from the head taken before listing.</summary>
    private sealed class StreamListFeed : IEventFeed
    {
        private readonly ICairnStore _store;
        private readonly int _batch;
        private readonly bool _live;
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
        private ulong? _headBeforeListing;
        private ulong _afterOrdinal;
        private bool _listed;
        private Task<ICairnSubscription>? _subscription;

        public StreamListFeed(ICairnStore store, int batch, bool liveAfterHead)
        {
            _store = store;
            _batch = batch;
            _live = liveAfterHead;
        }

        public async Task<IReadOnlyList<RecordedEvent>?> NextAsync(CancellationToken cancellation)
        {
            if (_live) _headBeforeListing ??= await _store.HeadPositionAsync().ConfigureAwait(false);
            while (!_listed)
            {
                var streams = await _store.ListStreamsAsync(_afterOrdinal, (ulong)_batch).ConfigureAwait(false);
                if (streams.Count < _batch) _listed = true;
                if (streams.Count == 0) break;
                _afterOrdinal = streams[^1].Ordinal;
                var fresh = new List<RecordedEvent>();
                foreach (var s in streams)
                    if (_seen.Add(s.Name)) fresh.Add(Marker(s.Name));
                if (fresh.Count > 0) return fresh;
            }
            if (!_live) return null;
            _subscription ??= _store.SubscribeAsync(SubscriptionKind.All, "", _headBeforeListing!.Value);
            var subscription = await _subscription.ConfigureAwait(false);
            while (true)
            {
                var events = await subscription.NextAsync(_batch, cancellation).ConfigureAwait(false);
                var fresh = new List<RecordedEvent>();
                foreach (var ev in events)
                    if (_seen.Add(ev.Stream)) fresh.Add(ev);
                if (fresh.Count > 0) return fresh;
            }
        }

        private static RecordedEvent Marker(string stream) =>
            new(stream, 0, 0, "", 0, "", Array.Empty<byte>(), Array.Empty<byte>(), Array.Empty<string>());

        public bool Ended => !_live && _listed;

        public void Dispose() => LiveFeed.DisposeWhenOpen(_subscription);
    }
}
