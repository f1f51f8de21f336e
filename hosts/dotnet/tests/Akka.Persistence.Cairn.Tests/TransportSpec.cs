using System.Collections.Immutable;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Cairn.Query;
using Akka.Persistence.Query;
using Akka.Serialization;
using Akka.Streams;
using Akka.Streams.Dsl;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>A payload whose serializer needs the system's transport
/// information, as any serializer writing an IActorRef does.</summary>
public sealed record TransportProbe(string SeenOnWrite = "", string? SeenOnRead = null);

/// <summary>Writes the address from <c>Serialization.CurrentTransportInformation</c>
/// and refuses to write without it; reads back what it saw then and now.</summary>
public sealed class TransportProbeSerializer : SerializerWithStringManifest
{
    public TransportProbeSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    public override int Identifier => 4712;

    public override byte[] ToBinary(object obj)
    {
        var info = Current();
        if (info?.Address == null)
            throw new InvalidOperationException(
                "no Serialization.CurrentTransportInformation: called outside Serialization.WithTransport");
        return Encoding.UTF8.GetBytes(info.Address.ToString());
    }

    public override object FromBinary(byte[] bytes, string manifest) =>
        new TransportProbe(Encoding.UTF8.GetString(bytes), Current()?.Address?.ToString());

    /// <summary>Serialization.CurrentTransportInformation, or null outside
    /// WithTransport (where Akka's accessor throws).</summary>
    private static Information? Current()
    {
        try
        {
            return Akka.Serialization.Serialization.GetCurrentTransportInformation();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    public override string Manifest(object o) => "transport-probe";
}

/// <summary>Serializers run inside Serialization.WithTransport: journal writes
/// and replays, snapshot saves and loads, and the read journal.</summary>
public sealed class TransportSpec : CairnSpec
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    public TransportSpec(ITestOutputHelper output) : base(output, @"
akka.actor.serializers.transport-probe = ""Akka.Persistence.Cairn.Tests.TransportProbeSerializer, Akka.Persistence.Cairn.Tests""
akka.actor.serialization-bindings {
  ""Akka.Persistence.Cairn.Tests.TransportProbe, Akka.Persistence.Cairn.Tests"" = transport-probe
}")
    {
    }

    private string Address => ((ExtendedActorSystem)Sys).Provider.DefaultAddress.ToString();

    [Fact]
    public async Task Events_are_written_and_read_with_the_systems_transport_information()
    {
        var pid = NewId("transport");
        var events = Enumerable.Range(1, 3)
            .Select(i => (IPersistentRepresentation)new Persistent(new TransportProbe(), i, pid, "", false,
                ActorRefs.NoSender, "writer-1"))
            .ToImmutableList();
        Journal.Tell(new WriteMessages(new[] { new AtomicWrite(events) }, TestActor, 1));
        ExpectMsg<WriteMessagesSuccessful>(Wait);
        for (int i = 1; i <= 3; i++)
            ExpectMsg<WriteMessageSuccess>(m => m.Persistent.SequenceNr == i, Wait);

        Journal.Tell(new ReplayMessages(1, long.MaxValue, long.MaxValue, pid, TestActor));
        for (int i = 1; i <= 3; i++)
        {
            var replayed = (TransportProbe)ExpectMsg<ReplayedMessage>(Wait).Persistent.Payload;
            Assert.Equal(Address, replayed.SeenOnWrite);
            Assert.Equal(Address, replayed.SeenOnRead);
        }
        ExpectMsg<RecoverySuccess>(Wait);

        var queries = PersistenceQuery.Get(Sys).ReadJournalFor<CairnReadJournal>(CairnReadJournal.Identifier);
        var read = await queries.CurrentEventsByPersistenceId(pid, 0, long.MaxValue)
            .RunWith(Sink.Seq<EventEnvelope>(), Sys.Materializer());
        Assert.Equal(3, read.Count);
        Assert.All(read, e => Assert.Equal(Address, ((TransportProbe)e.Event).SeenOnRead));
    }

    [Fact]
    public void Snapshots_are_saved_and_loaded_with_the_systems_transport_information()
    {
        var pid = NewId("transport-snap");
        SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(pid, 4, DateTime.UtcNow), new TransportProbe()), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(Wait);
        SnapshotStore.Tell(new LoadSnapshot(pid, SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);
        var loaded = (TransportProbe)ExpectMsg<LoadSnapshotResult>(Wait).Snapshot!.Snapshot;
        Assert.Equal(Address, loaded.SeenOnWrite);
        Assert.Equal(Address, loaded.SeenOnRead);
    }
}
