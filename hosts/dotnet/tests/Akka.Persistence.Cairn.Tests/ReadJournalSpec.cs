using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence.Cairn.Query;
using Akka.Persistence.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Streams.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>Every query of the read journal, current and live.</summary>
public sealed class ReadJournalSpec : CairnSpec
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly CairnReadJournal _queries;
    private readonly IMaterializer _materializer;

    public ReadJournalSpec(ITestOutputHelper output) : base(output)
    {
        _queries = PersistenceQuery.Get(Sys).ReadJournalFor<CairnReadJournal>(CairnReadJournal.Identifier);
        _materializer = Sys.Materializer();
    }

    /// <summary>Persists <paramref name="count"/> events of 1 each to a counter
    /// (tagged <paramref name="tag"/> if given) and returns its actor.</summary>
    private IActorRef Persist(string pid, int count, string? tag = null, IActorRef? actor = null)
    {
        actor ??= Sys.ActorOf(CounterActor.Props(pid, tag: tag));
        for (int i = 0; i < count; i++)
        {
            actor.Tell(new CounterActor.Add(1));
            ExpectMsg<long>(Wait);
        }
        return actor;
    }

    private Task<IImmutableListShim> Current(Source<EventEnvelope, NotUsed> source) =>
        source.RunWith(Sink.Seq<EventEnvelope>(), _materializer).ContinueWith(t => new IImmutableListShim(t.Result));

    /// <summary>The envelopes of a finished current query.</summary>
    public sealed record IImmutableListShim(IReadOnlyList<EventEnvelope> Items);

    private static long Offset(EventEnvelope e) => ((Sequence)e.Offset).Value;

    [Fact]
    public async Task CurrentEventsByPersistenceId_returns_stored_events_in_range_and_completes()
    {
        var pid = NewId("current-pid");
        Persist(pid, 6);
        var all = (await Current(_queries.CurrentEventsByPersistenceId(pid, 0, long.MaxValue))).Items;
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6 }, all.Select(e => e.SequenceNr));
        Assert.All(all, e => Assert.Equal(pid, e.PersistenceId));
        Assert.All(all, e => Assert.IsType<CounterActor.Added>(e.Event));
        var some = (await Current(_queries.CurrentEventsByPersistenceId(pid, 2, 4))).Items;
        Assert.Equal(new long[] { 2, 3, 4 }, some.Select(e => e.SequenceNr));
        Assert.Empty((await Current(_queries.CurrentEventsByPersistenceId(NewId("nobody"), 0, long.MaxValue))).Items);
    }

    [Fact]
    public void EventsByPersistenceId_follows_new_events_and_completes_at_to()
    {
        var pid = NewId("live-pid");
        var actor = Persist(pid, 2);
        var probe = _queries.EventsByPersistenceId(pid, 2, 4).RunWith(this.SinkProbe<EventEnvelope>(), _materializer);
        probe.Request(10);
        Assert.Equal(2, probe.ExpectNext(Wait).SequenceNr);
        Persist(pid, 3, actor: actor);
        Assert.Equal(3, probe.ExpectNext(Wait).SequenceNr);
        Assert.Equal(4, probe.ExpectNext(Wait).SequenceNr);
        probe.ExpectComplete();
    }

    [Fact]
    public async Task CurrentEventsByTag_starts_after_the_offset_exclusive()
    {
        var tag = NewId("tag");
        Persist(NewId("a"), 2, tag);
        Persist(NewId("b"), 2, tag);
        Persist(NewId("untagged"), 2);
        var all = (await Current(_queries.CurrentEventsByTag(tag, NoOffset.Instance))).Items;
        Assert.Equal(4, all.Count);
        Assert.True(all.Select(Offset).SequenceEqual(all.Select(Offset).OrderBy(o => o)));
        var after = (await Current(_queries.CurrentEventsByTag(tag, new Sequence(Offset(all[1]))))).Items;
        Assert.Equal(all.Skip(2).Select(Offset), after.Select(Offset));
        Assert.All(all, e => Assert.Contains(tag, e.Tags));
    }

    [Fact]
    public void EventsByTag_delivers_stored_then_new_events()
    {
        var tag = NewId("live-tag");
        var pid = NewId("writer");
        var actor = Persist(pid, 1, tag);
        var probe = _queries.EventsByTag(tag, NoOffset.Instance).RunWith(this.SinkProbe<EventEnvelope>(), _materializer);
        probe.Request(10);
        Assert.Equal(1, probe.ExpectNext(Wait).SequenceNr);
        Persist(pid, 2, tag, actor);
        Assert.Equal(2, probe.ExpectNext(Wait).SequenceNr);
        Assert.Equal(3, probe.ExpectNext(Wait).SequenceNr);
        probe.Cancel();
    }

    [Fact]
    public async Task CurrentAllEvents_returns_everything_after_the_offset_and_completes()
    {
        var a = NewId("all-a");
        var b = NewId("all-b");
        Persist(a, 2);
        Persist(b, 1);
        var all = (await Current(_queries.CurrentAllEvents(NoOffset.Instance))).Items;
        Assert.Equal(new long[] { 1, 2, 3 }, all.Select(Offset));
        Assert.Equal(new[] { a, a, b }, all.Select(e => e.PersistenceId));
        var after = (await Current(_queries.CurrentAllEvents(new Sequence(2)))).Items;
        Assert.Equal(new long[] { 3 }, after.Select(Offset));
    }

    [Fact]
    public void AllEvents_follows_new_events()
    {
        var pid = NewId("all-live");
        var actor = Persist(pid, 1);
        var probe = _queries.AllEvents(NoOffset.Instance).RunWith(this.SinkProbe<EventEnvelope>(), _materializer);
        probe.Request(10);
        Assert.Equal(1, Offset(probe.ExpectNext(Wait)));
        Persist(pid, 1, actor: actor);
        var next = probe.ExpectNext(Wait);
        Assert.Equal(2, Offset(next));
        Assert.Equal(pid, next.PersistenceId);
        probe.Cancel();
    }

    [Fact]
    public async Task CurrentPersistenceIds_lists_each_id_once()
    {
        var a = NewId("ids-a");
        var b = NewId("ids-b");
        Persist(a, 2);
        Persist(b, 1);
        var ids = await _queries.CurrentPersistenceIds().RunWith(Sink.Seq<string>(), _materializer);
        Assert.Equal(new[] { a, b }, ids);
    }

    [Fact]
    public void PersistenceIds_adds_new_ids_as_they_appear()
    {
        var a = NewId("live-ids-a");
        Persist(a, 1);
        var probe = _queries.PersistenceIds().RunWith(this.SinkProbe<string>(), _materializer);
        probe.Request(10);
        Assert.Equal(a, probe.ExpectNext(Wait));
        var b = NewId("live-ids-b");
        var actor = Persist(b, 1);
        Assert.Equal(b, probe.ExpectNext(Wait));
        Persist(b, 1, actor: actor);
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        probe.Cancel();
    }

    [Fact]
    public void An_unsupported_offset_type_is_refused_with_a_reason()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            _queries.EventsByTag("t", new TimeBasedUuid(Guid.NewGuid())));
        Assert.Contains("Sequence", ex.Message);
    }

    [Fact]
    public async Task Tag_and_all_queries_see_every_event_once_in_order_while_writers_run()
    {
        const int writers = 4;
        const int perWriter = 150;
        var tag = NewId("busy");
        var byTag = _queries.EventsByTag(tag, NoOffset.Instance).Take(writers * perWriter)
            .RunWith(Sink.Seq<EventEnvelope>(), _materializer);
        var all = _queries.AllEvents(NoOffset.Instance).Take(writers * perWriter)
            .RunWith(Sink.Seq<EventEnvelope>(), _materializer);
        var actors = Enumerable.Range(0, writers)
            .Select(i => Sys.ActorOf(CounterActor.Props(NewId($"busy-{i}"), tag: tag))).ToList();
        for (int n = 0; n < perWriter; n++)
            foreach (var actor in actors) actor.Tell(new CounterActor.Add(1, Async: true));
        for (int n = 0; n < writers * perWriter; n++) ExpectMsg<long>(Wait);

        foreach (var result in new[] { await byTag.WaitAsync(Wait), await all.WaitAsync(Wait) })
        {
            Assert.Equal(writers * perWriter, result.Count);
            var offsets = result.Select(Offset).ToList();
            Assert.Equal(offsets.Distinct().Count(), offsets.Count);
            Assert.True(offsets.Zip(offsets.Skip(1)).All(p => p.First < p.Second), "offsets must increase");
            foreach (var perActor in result.GroupBy(e => e.PersistenceId))
                Assert.Equal(Enumerable.Range(1, perWriter).Select(i => (long)i), perActor.Select(e => e.SequenceNr));
        }
    }

    // ---- "current" queries complete right after their last element ------------
    // (a TestSink that asks for exactly as many as there are must see
    // OnComplete without asking again)

    /// <summary>Writes <paramref name="count"/> events to <paramref name="pid"/>
    /// through the journal in one write, tagged <paramref name="tag"/> if given.</summary>
    private void WriteEvents(string pid, int count, string? tag = null)
    {
        var events = Enumerable.Range(1, count)
            .Select(i => (IPersistentRepresentation)new Persistent(
                tag == null ? $"e-{i}" : new Akka.Persistence.Journal.Tagged($"e-{i}", new[] { tag }), i, pid, "",
                false, ActorRefs.NoSender, "writer-1"))
            .ToImmutableList();
        Journal.Tell(new WriteMessages(new[] { new AtomicWrite(events) }, TestActor, 1));
        ExpectMsg<WriteMessagesSuccessful>(Wait);
        for (int i = 1; i <= count; i++) ExpectMsg<WriteMessageSuccess>(Wait);
    }

    private void ExpectExactlyThenComplete(Source<EventEnvelope, NotUsed> source, int count)
    {
        var probe = source.RunWith(this.SinkProbe<EventEnvelope>(), _materializer);
        probe.Request(count);
        var got = probe.ExpectNextN(count, Wait).ToList();
        Assert.Equal(count, got.Count);
        probe.ExpectComplete();
    }

    [Fact]
    public void CurrentEventsByTag_completes_when_demand_equals_its_events()
    {
        var tag = NewId("exact");
        WriteEvents(NewId("a"), 100, tag);
        WriteEvents(NewId("b"), 50, tag);
        WriteEvents(NewId("untagged"), 7);
        ExpectExactlyThenComplete(_queries.CurrentEventsByTag(tag, NoOffset.Instance), 150);
    }

    [Fact]
    public void CurrentAllEvents_completes_when_demand_equals_its_events()
    {
        WriteEvents(NewId("a"), 100);
        WriteEvents(NewId("b"), 50);
        ExpectExactlyThenComplete(_queries.CurrentAllEvents(NoOffset.Instance), 150);
    }

    [Fact]
    public void Current_queries_complete_when_demand_equals_a_full_page()
    {
        // 512 (max-buffer-size) tagged events: the page is full, so only a
        // further read can tell the end; it is read ahead, not on demand.
        var tag = NewId("page");
        WriteEvents(NewId("p"), 512, tag);
        ExpectExactlyThenComplete(_queries.CurrentEventsByTag(tag, NoOffset.Instance), 512);
        ExpectExactlyThenComplete(_queries.CurrentAllEvents(NoOffset.Instance), 512);
    }

    [Fact]
    public void CurrentEventsByPersistenceId_after_a_partial_delete_completes_when_demand_equals_what_is_left()
    {
        var pid = NewId("deleted");
        WriteEvents(pid, 150);
        Journal.Tell(new DeleteMessagesTo(pid, 50, TestActor));
        ExpectMsg<DeleteMessagesSuccess>(Wait);
        ExpectExactlyThenComplete(_queries.CurrentEventsByPersistenceId(pid, 0, long.MaxValue), 100);
    }

    [Fact]
    public void EventsByPersistenceId_with_a_bounded_to_completes_when_demand_equals_the_range()
    {
        var pid = NewId("live-bounded");
        WriteEvents(pid, 150);
        ExpectExactlyThenComplete(_queries.EventsByPersistenceId(pid, 11, 150), 140);
    }

    [Fact]
    public void CurrentPersistenceIds_completes_when_demand_equals_the_ids()
    {
        for (int i = 0; i < 5; i++) WriteEvents(NewId($"id-{i}"), 1);
        var probe = _queries.CurrentPersistenceIds().RunWith(this.SinkProbe<string>(), _materializer);
        probe.Request(5);
        Assert.Equal(5, probe.ExpectNextN(5, Wait).ToList().Distinct().Count());
        probe.ExpectComplete();
    }
}
