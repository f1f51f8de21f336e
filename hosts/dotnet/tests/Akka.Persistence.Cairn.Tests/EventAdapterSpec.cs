using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence.Cairn.Query;
using Akka.Persistence.Journal;
using Akka.Persistence.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Persistence.Cairn.Tests;

public sealed record Shouted(string Text);
public sealed record Pair(string First, string Second);

/// <summary>Reads a Shouted as its upper-cased text, and a Pair as two events.</summary>
public sealed class TestReadAdapter : IReadEventAdapter
{
    public IEventSequence FromJournal(object evt, string manifest) => evt switch
    {
        Shouted s => EventSequence.Single(s.Text.ToUpperInvariant()),
        Pair p => EventSequence.Create(p.First, p.Second),
        _ => EventSequence.Single(evt),
    };
}

/// <summary>Query results go through the journal's read-side event adapters,
/// as a recovering actor's events do.</summary>
public sealed class EventAdapterSpec : CairnSpec
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public EventAdapterSpec(ITestOutputHelper output) : base(output, @"
akka.persistence.journal.cairn {
  event-adapters.test = ""Akka.Persistence.Cairn.Tests.TestReadAdapter, Akka.Persistence.Cairn.Tests""
  event-adapter-bindings {
    ""Akka.Persistence.Cairn.Tests.Shouted, Akka.Persistence.Cairn.Tests"" = test
    ""Akka.Persistence.Cairn.Tests.Pair, Akka.Persistence.Cairn.Tests"" = test
  }
}")
    {
    }

    [Fact]
    public async Task Queries_return_events_as_the_read_adapters_make_them()
    {
        var pid = NewId("adapted");
        var events = new object[] { new Shouted("hello"), new Pair("left", "right") }
            .Select((e, i) => (IPersistentRepresentation)new Persistent(e, i + 1, pid, "", false, ActorRefs.NoSender, "w"))
            .ToImmutableList();
        Journal.Tell(new WriteMessages(new[] { new AtomicWrite(events) }, TestActor, 1));
        ExpectMsg<WriteMessagesSuccessful>(Wait);
        ExpectMsg<WriteMessageSuccess>(Wait);
        ExpectMsg<WriteMessageSuccess>(Wait);

        var queries = PersistenceQuery.Get(Sys).ReadJournalFor<CairnReadJournal>(CairnReadJournal.Identifier);
        var result = await queries.CurrentEventsByPersistenceId(pid, 0, long.MaxValue)
            .RunWith(Sink.Seq<EventEnvelope>(), Sys.Materializer());
        Assert.Equal(new object[] { "HELLO", "left", "right" }, result.Select(e => e.Event));
        Assert.Equal(new long[] { 1, 2, 2 }, result.Select(e => e.SequenceNr));
    }
}
