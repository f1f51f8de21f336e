using Akka.Actor;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>Persistent actors end to end: persist, stop, recover.</summary>
public sealed class PersistentActorSpec : CairnSpec
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    public PersistentActorSpec(ITestOutputHelper output) : base(output)
    {
    }

    private void Stop(IActorRef actor)
    {
        Watch(actor);
        actor.Tell(PoisonPill.Instance);
        ExpectTerminated(actor, Wait);
    }

    [Fact]
    public void An_actor_persists_is_stopped_and_recovers_its_state()
    {
        var pid = NewId("counter");
        var counter = Sys.ActorOf(CounterActor.Props(pid));
        for (int i = 1; i <= 10; i++)
        {
            counter.Tell(new CounterActor.Add(i));
            ExpectMsg<long>((long)i, Wait);
        }
        Stop(counter);

        var revived = Sys.ActorOf(CounterActor.Props(pid));
        revived.Tell(CounterActor.Get.Instance);
        var state = ExpectMsg<CounterActor.State>(Wait);
        Assert.Equal(55, state.Total);
        Assert.Equal(10, state.LastSequenceNr);
        Assert.Equal(10, state.EventsReplayed);
        revived.Tell(new CounterActor.Add(1));
        ExpectMsg<long>(11L, Wait);
    }

    [Fact]
    public void An_actor_recovers_from_its_snapshot_and_the_events_after_it()
    {
        var pid = NewId("snapshotting");
        var counter = Sys.ActorOf(CounterActor.Props(pid, snapshotEvery: 5));
        for (int i = 1; i <= 7; i++)
        {
            counter.Tell(new CounterActor.Add(1));
            ExpectMsg<long>(Wait);
        }
        // The snapshot at 5 is saved asynchronously; wait until it is there.
        AwaitAssert(() =>
        {
            SnapshotStore.Tell(new LoadSnapshot(pid, SnapshotSelectionCriteria.Latest, long.MaxValue), TestActor);
            Assert.Equal(5, ExpectMsg<LoadSnapshotResult>(Wait).Snapshot?.Metadata.SequenceNr);
        }, Wait);
        Stop(counter);

        var revived = Sys.ActorOf(CounterActor.Props(pid, snapshotEvery: 5));
        revived.Tell(CounterActor.Get.Instance);
        var state = ExpectMsg<CounterActor.State>(Wait);
        Assert.Equal(7, state.Total);
        Assert.Equal(5, state.RecoveredFromSnapshotAt);
        Assert.Equal(2, state.EventsReplayed);
    }

    [Fact]
    public void PersistAsync_and_PersistAll_keep_every_event_in_order()
    {
        var pid = NewId("async");
        var counter = Sys.ActorOf(CounterActor.Props(pid));
        for (int i = 0; i < 300; i++) counter.Tell(new CounterActor.Add(1, Async: true));
        for (int i = 1; i <= 300; i++) ExpectMsg<long>((long)i, Wait);
        counter.Tell(new CounterActor.AddMany(200));
        ExpectMsg<long>(500L, Wait);
        Stop(counter);

        var revived = Sys.ActorOf(CounterActor.Props(pid));
        revived.Tell(CounterActor.Get.Instance);
        var state = ExpectMsg<CounterActor.State>(Wait);
        Assert.Equal(500, state.Total);
        Assert.Equal(500, state.LastSequenceNr);
    }
}
