using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence.Journal;
using Akka.Persistence.Cairn.Query;
using Akka.Persistence.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>The journal's rules, each pinned through the journal protocol.</summary>
public sealed class JournalSpec : CairnSpec
{
    private const int ActorInstanceId = 1;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public JournalSpec(ITestOutputHelper output) : base(output)
    {
    }

    private static Persistent Event(string pid, long seq, object payload, string manifest = "",
        string writer = "writer-1", long timestamp = 0) =>
        new(payload, seq, pid, manifest, false, ActorRefs.NoSender, writer, timestamp);

    private static AtomicWrite Atomic(params Persistent[] events) =>
        new(events.Cast<IPersistentRepresentation>().ToImmutableList());

    private void Write(params AtomicWrite[] writes) =>
        Journal.Tell(new WriteMessages(writes, TestActor, ActorInstanceId));

    private void WriteAndExpectSuccess(string pid, int from, int to)
    {
        var events = Enumerable.Range(from, to - from + 1).Select(i => Event(pid, i, $"e-{i}")).ToArray();
        Write(Atomic(events));
        ExpectMsg<WriteMessagesSuccessful>(Wait);
        for (int i = from; i <= to; i++) ExpectMsg<WriteMessageSuccess>(m => m.Persistent.SequenceNr == i, Wait);
    }

    private List<IPersistentRepresentation> Replay(string pid, long from, long to, long max, out long highest)
    {
        Journal.Tell(new ReplayMessages(from, to, max, pid, TestActor));
        var replayed = new List<IPersistentRepresentation>();
        while (true)
        {
            var msg = ExpectMsg<object>(Wait);
            if (msg is ReplayedMessage r) replayed.Add(r.Persistent);
            else if (msg is RecoverySuccess s)
            {
                highest = s.HighestSequenceNr;
                return replayed;
            }
            else throw new Xunit.Sdk.XunitException($"unexpected reply during replay: {msg}");
        }
    }

    [Fact]
    public void A_failed_atomic_write_leaves_none_of_its_events()
    {
        var pid = NewId("atomic");
        WriteAndExpectSuccess(pid, 1, 2);
        // Sequence numbers 2..4 conflict with the stored 2: the whole write
        // must fail, including 3 and 4 which alone would have fitted.
        Write(Atomic(Event(pid, 2, "x-2"), Event(pid, 3, "x-3"), Event(pid, 4, "x-4")));
        ExpectMsg<WriteMessagesFailed>(Wait);
        ExpectMsg<WriteMessageFailure>(Wait);
        ExpectMsg<WriteMessageFailure>(Wait);
        ExpectMsg<WriteMessageFailure>(Wait);
        var replayed = Replay(pid, 1, long.MaxValue, long.MaxValue, out long highest);
        Assert.Equal(new object[] { "e-1", "e-2" }, replayed.Select(p => p.Payload));
        Assert.Equal(2, highest);
    }

    [Fact]
    public void A_storage_failure_fails_the_write_task()
    {
        var pid = NewId("storage-failure");
        WriteAndExpectSuccess(pid, 1, 1);
        Write(Atomic(Event(pid, 1, "again")));
        var failed = ExpectMsg<WriteMessagesFailed>(Wait);
        Assert.Contains("WrongExpectedRevision", failed.Cause.ToString());
        var failure = ExpectMsg<WriteMessageFailure>(Wait);
        Assert.Equal(1, failure.Persistent.SequenceNr);
    }

    [Fact]
    public void A_non_serializable_event_is_rejected_for_its_write_only()
    {
        var good = NewId("good");
        var bad = NewId("bad");
        Write(Atomic(Event(good, 1, "fine")), Atomic(Event(bad, 1, new Unserializable())),
            Atomic(Event(good, 2, "also fine")));
        ExpectMsg<WriteMessagesSuccessful>(Wait);
        ExpectMsg<WriteMessageSuccess>(m => m.Persistent.SequenceNr == 1, Wait);
        var rejected = ExpectMsg<WriteMessageRejected>(Wait);
        Assert.Equal(bad, rejected.Persistent.PersistenceId);
        ExpectMsg<WriteMessageSuccess>(m => m.Persistent.SequenceNr == 2, Wait);
        Assert.Equal(2, Replay(good, 1, long.MaxValue, long.MaxValue, out _).Count);
        Assert.Empty(Replay(bad, 1, long.MaxValue, long.MaxValue, out long badHighest));
        Assert.Equal(0, badHighest);
    }

    [Fact]
    public void Writes_for_one_persistence_id_are_applied_in_order()
    {
        var pid = NewId("order");
        const int batches = 200;
        // Many WriteMessages in flight at once, each one event: the lanes
        // must apply them in the order they were issued.
        for (int i = 1; i <= batches; i++) Write(Atomic(Event(pid, i, $"e-{i}")));
        for (int i = 1; i <= batches; i++)
        {
            ExpectMsg<WriteMessagesSuccessful>(Wait);
            ExpectMsg<WriteMessageSuccess>(Wait);
        }
        var replayed = Replay(pid, 1, long.MaxValue, long.MaxValue, out long highest);
        Assert.Equal(batches, highest);
        Assert.Equal(Enumerable.Range(1, batches).Select(i => (object)$"e-{i}"), replayed.Select(p => p.Payload));
        Assert.Equal(Enumerable.Range(1, batches).Select(i => (long)i), replayed.Select(p => p.SequenceNr));
    }

    [Fact]
    public void Highest_sequence_number_stays_after_deleting_everything()
    {
        var pid = NewId("delete-all");
        WriteAndExpectSuccess(pid, 1, 5);
        Journal.Tell(new DeleteMessagesTo(pid, long.MaxValue, TestActor));
        ExpectMsg<DeleteMessagesSuccess>(Wait);
        var replayed = Replay(pid, 1, long.MaxValue, long.MaxValue, out long highest);
        Assert.Empty(replayed);
        Assert.Equal(5, highest);
        WriteAndExpectSuccess(pid, 6, 6);
        replayed = Replay(pid, 1, long.MaxValue, long.MaxValue, out highest);
        Assert.Equal(new long[] { 6 }, replayed.Select(p => p.SequenceNr));
        Assert.Equal(6, highest);
    }

    [Fact]
    public void Deleting_to_a_sequence_number_hides_only_those_events()
    {
        var pid = NewId("delete-some");
        WriteAndExpectSuccess(pid, 1, 5);
        Journal.Tell(new DeleteMessagesTo(pid, 3, TestActor));
        ExpectMsg<DeleteMessagesSuccess>(Wait);
        var replayed = Replay(pid, 1, long.MaxValue, long.MaxValue, out long highest);
        Assert.Equal(new long[] { 4, 5 }, replayed.Select(p => p.SequenceNr));
        Assert.Equal(5, highest);
    }

    [Fact]
    public void Replay_honours_from_and_to_inclusive()
    {
        var pid = NewId("from-to");
        WriteAndExpectSuccess(pid, 1, 10);
        var replayed = Replay(pid, 3, 7, long.MaxValue, out _);
        Assert.Equal(new long[] { 3, 4, 5, 6, 7 }, replayed.Select(p => p.SequenceNr));
    }

    [Fact]
    public void Replay_honours_max()
    {
        var pid = NewId("max");
        WriteAndExpectSuccess(pid, 1, 10);
        var replayed = Replay(pid, 2, long.MaxValue, 4, out _);
        Assert.Equal(new long[] { 2, 3, 4, 5 }, replayed.Select(p => p.SequenceNr));
    }

    [Fact]
    public void Replay_with_max_zero_replays_nothing()
    {
        var pid = NewId("max-zero");
        WriteAndExpectSuccess(pid, 1, 3);
        var replayed = Replay(pid, 1, long.MaxValue, 0, out long highest);
        Assert.Empty(replayed);
        Assert.Equal(3, highest);
    }

    [Fact]
    public void Replay_pages_through_more_events_than_one_read_batch()
    {
        var pid = NewId("pages");
        for (int from = 1; from <= 2500; from += 500) WriteAndExpectSuccess(pid, from, from + 499);
        var replayed = Replay(pid, 1, long.MaxValue, long.MaxValue, out _);
        Assert.Equal(Enumerable.Range(1, 2500).Select(i => (long)i), replayed.Select(p => p.SequenceNr));
    }

    [Fact]
    public async Task Tagged_payloads_are_unwrapped_and_their_tags_stored()
    {
        var pid = NewId("tagged");
        var tag = NewId("tag");
        Write(Atomic(Event(pid, 1, new Tagged("tagged-event", new[] { tag, "other-" + tag }))));
        ExpectMsg<WriteMessagesSuccessful>(Wait);
        ExpectMsg<WriteMessageSuccess>(Wait);
        var replayed = Replay(pid, 1, long.MaxValue, long.MaxValue, out _);
        Assert.Equal("tagged-event", Assert.Single(replayed).Payload);

        var queries = PersistenceQuery.Get(Sys).ReadJournalFor<CairnReadJournal>(CairnReadJournal.Identifier);
        var byTag = await queries.CurrentEventsByTag(tag, Offset.NoOffset())
            .RunWith(Sink.Seq<EventEnvelope>(), Sys.Materializer());
        var envelope = Assert.Single(byTag);
        Assert.Equal("tagged-event", envelope.Event);
        Assert.Equal(new[] { tag, "other-" + tag }.OrderBy(t => t), envelope.Tags.OrderBy(t => t));
    }

    [Fact]
    public void Writer_guid_manifest_timestamp_and_serializer_are_restored()
    {
        var pid = NewId("facts");
        long before = DateTime.UtcNow.Ticks;
        // Akka's AsyncWriteJournal stamps the write time (ticks) on each event
        // before the journal sees it; the journal must store that value.
        Write(Atomic(Event(pid, 1, new CustomSerialized("hello"), manifest: "adapter-manifest",
            writer: "writer-guid-42")));
        ExpectMsg<WriteMessagesSuccessful>(Wait);
        ExpectMsg<WriteMessageSuccess>(Wait);
        long after = DateTime.UtcNow.Ticks;
        var p = Assert.Single(Replay(pid, 1, long.MaxValue, long.MaxValue, out _));
        Assert.Equal("writer-guid-42", p.WriterGuid);
        Assert.Equal("adapter-manifest", p.Manifest);
        Assert.InRange(p.Timestamp, before, after);
        Assert.Equal(p.Timestamp, Assert.Single(Replay(pid, 1, long.MaxValue, long.MaxValue, out _)).Timestamp);
        var payload = Assert.IsType<CustomSerialized>(p.Payload);
        Assert.Equal("hello", payload.Text);
        Assert.True(payload.CameThroughTestSerializer, "the payload must come back through serializer 4711");
    }
}
