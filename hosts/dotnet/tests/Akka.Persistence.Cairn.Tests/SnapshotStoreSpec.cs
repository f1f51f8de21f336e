using Xunit;
using Xunit.Abstractions;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>The snapshot store's rules, through the snapshot protocol.</summary>
public sealed class SnapshotStoreSpec : CairnSpec
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly DateTime T0 = new(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public SnapshotStoreSpec(ITestOutputHelper output) : base(output)
    {
    }

    private SnapshotMetadata Save(string pid, long seq, DateTime timestamp, object snapshot)
    {
        var metadata = new SnapshotMetadata(pid, seq, timestamp);
        SnapshotStore.Tell(new SaveSnapshot(metadata, snapshot), TestActor);
        ExpectMsg<SaveSnapshotSuccess>(Wait);
        return metadata;
    }

    private SelectedSnapshot? Load(string pid, SnapshotSelectionCriteria criteria)
    {
        SnapshotStore.Tell(new LoadSnapshot(pid, criteria, long.MaxValue), TestActor);
        return ExpectMsg<LoadSnapshotResult>(Wait).Snapshot;
    }

    private string SaveThree()
    {
        var pid = NewId("snap");
        Save(pid, 10, T0.AddMinutes(1), "s-10");
        Save(pid, 20, T0.AddMinutes(2), "s-20");
        Save(pid, 30, T0.AddMinutes(3), "s-30");
        return pid;
    }

    [Fact]
    public void Loads_the_newest_snapshot_by_default()
    {
        var pid = SaveThree();
        var s = Load(pid, SnapshotSelectionCriteria.Latest)!;
        Assert.Equal(30, s.Metadata.SequenceNr);
        Assert.Equal("s-30", s.Snapshot);
        Assert.Equal(T0.AddMinutes(3), s.Metadata.Timestamp);
    }

    [Fact]
    public void Loads_the_newest_snapshot_at_or_below_max_sequence_number()
    {
        var pid = SaveThree();
        Assert.Equal(20, Load(pid, new SnapshotSelectionCriteria(25))!.Metadata.SequenceNr);
        Assert.Equal(20, Load(pid, new SnapshotSelectionCriteria(20))!.Metadata.SequenceNr);
        Assert.Null(Load(pid, new SnapshotSelectionCriteria(9)));
    }

    [Fact]
    public void Loads_the_newest_snapshot_at_or_before_max_timestamp()
    {
        var pid = SaveThree();
        var s = Load(pid, new SnapshotSelectionCriteria(long.MaxValue, T0.AddMinutes(2).AddSeconds(30)))!;
        Assert.Equal(20, s.Metadata.SequenceNr);
        Assert.Null(Load(pid, new SnapshotSelectionCriteria(long.MaxValue, T0)));
    }

    [Fact]
    public void Honours_min_sequence_number_and_min_timestamp()
    {
        var pid = SaveThree();
        Assert.Null(Load(pid, new SnapshotSelectionCriteria(25, DateTime.MaxValue, 21, null)));
        Assert.Equal(20,
            Load(pid, new SnapshotSelectionCriteria(25, DateTime.MaxValue, 15, null))!.Metadata.SequenceNr);
        Assert.Null(Load(pid, new SnapshotSelectionCriteria(25, DateTime.MaxValue, 0, T0.AddMinutes(2).AddSeconds(1))));
    }

    [Fact]
    public void Saving_at_the_same_sequence_number_overwrites()
    {
        var pid = NewId("overwrite");
        Save(pid, 5, T0, "first");
        Save(pid, 5, T0.AddSeconds(1), "second");
        var s = Load(pid, SnapshotSelectionCriteria.Latest)!;
        Assert.Equal("second", s.Snapshot);
        Assert.Equal(T0.AddSeconds(1), s.Metadata.Timestamp);
    }

    [Fact]
    public void Snapshots_round_trip_through_their_own_serializer()
    {
        var pid = NewId("serializer");
        Save(pid, 1, T0, new CustomSerialized("state"));
        var s = Assert.IsType<CustomSerialized>(Load(pid, SnapshotSelectionCriteria.Latest)!.Snapshot);
        Assert.Equal("state", s.Text);
        Assert.True(s.CameThroughTestSerializer);
    }

    [Fact]
    public void Delete_by_metadata_with_min_timestamp_deletes_whatever_timestamp()
    {
        var pid = SaveThree();
        SnapshotStore.Tell(new DeleteSnapshot(new SnapshotMetadata(pid, 30, DateTime.MinValue)), TestActor);
        ExpectMsg<DeleteSnapshotSuccess>(Wait);
        Assert.Equal(20, Load(pid, SnapshotSelectionCriteria.Latest)!.Metadata.SequenceNr);
    }

    [Fact]
    public void Delete_by_metadata_with_a_timestamp_needs_it_to_match()
    {
        var pid = SaveThree();
        SnapshotStore.Tell(new DeleteSnapshot(new SnapshotMetadata(pid, 30, T0.AddMinutes(7))), TestActor);
        ExpectMsg<DeleteSnapshotSuccess>(Wait);
        Assert.Equal(30, Load(pid, SnapshotSelectionCriteria.Latest)!.Metadata.SequenceNr);
        SnapshotStore.Tell(new DeleteSnapshot(new SnapshotMetadata(pid, 30, T0.AddMinutes(3))), TestActor);
        ExpectMsg<DeleteSnapshotSuccess>(Wait);
        Assert.Equal(20, Load(pid, SnapshotSelectionCriteria.Latest)!.Metadata.SequenceNr);
    }

    [Fact]
    public void Delete_by_criteria_removes_every_match()
    {
        var pid = SaveThree();
        SnapshotStore.Tell(new DeleteSnapshots(pid, new SnapshotSelectionCriteria(20)), TestActor);
        ExpectMsg<DeleteSnapshotsSuccess>(Wait);
        Assert.Null(Load(pid, new SnapshotSelectionCriteria(29)));
        Assert.Equal(30, Load(pid, SnapshotSelectionCriteria.Latest)!.Metadata.SequenceNr);
    }

    // ---- timestamps compare exactly, in ticks (the store keeps microseconds) ---

    // 5 ticks into a microsecond, so ticks before and after share it.
    private static readonly DateTime Tm = T0.AddTicks(12_345_675);

    [Fact]
    public void Delete_by_criteria_keeps_a_snapshot_one_tick_after_the_max_timestamp()
    {
        var pid = NewId("tick-delete");
        Save(pid, 10, Tm, "s-10");
        SnapshotStore.Tell(new DeleteSnapshots(pid,
            new SnapshotSelectionCriteria(long.MaxValue, Tm.AddTicks(-1))), TestActor);
        ExpectMsg<DeleteSnapshotsSuccess>(Wait);
        Assert.Equal(10, Load(pid, SnapshotSelectionCriteria.Latest)!.Metadata.SequenceNr);
        SnapshotStore.Tell(new DeleteSnapshots(pid, new SnapshotSelectionCriteria(long.MaxValue, Tm)), TestActor);
        ExpectMsg<DeleteSnapshotsSuccess>(Wait);
        Assert.Null(Load(pid, SnapshotSelectionCriteria.Latest));
    }

    [Fact]
    public void Delete_by_criteria_keeps_a_snapshot_one_tick_before_the_min_timestamp()
    {
        var pid = NewId("tick-delete-min");
        Save(pid, 10, Tm, "s-10");
        Save(pid, 20, Tm.AddMinutes(1), "s-20");
        SnapshotStore.Tell(new DeleteSnapshots(pid,
            new SnapshotSelectionCriteria(long.MaxValue, DateTime.MaxValue, 0, Tm.AddTicks(1))), TestActor);
        ExpectMsg<DeleteSnapshotsSuccess>(Wait);
        Assert.Equal(10, Load(pid, SnapshotSelectionCriteria.Latest)!.Metadata.SequenceNr);
    }

    [Fact]
    public void Criteria_within_one_microsecond_pick_exactly_by_tick()
    {
        var pid = NewId("tick-same-micro");
        Save(pid, 10, Tm, "s-10");
        Save(pid, 20, Tm.AddTicks(2), "s-20");
        Save(pid, 30, Tm.AddTicks(4), "s-30");
        // Newest at or before Tm + 3 ticks: 20, though 30 shares its microsecond.
        var s = Load(pid, new SnapshotSelectionCriteria(long.MaxValue, Tm.AddTicks(3)))!;
        Assert.Equal(20, s.Metadata.SequenceNr);
        Assert.Equal(Tm.AddTicks(2), s.Metadata.Timestamp);
        Assert.Null(Load(pid, new SnapshotSelectionCriteria(long.MaxValue, Tm.AddTicks(-1))));
        Assert.Null(Load(pid, new SnapshotSelectionCriteria(long.MaxValue, DateTime.MaxValue, 0, Tm.AddTicks(5))));
        Assert.Equal(10, Load(pid, new SnapshotSelectionCriteria(long.MaxValue, Tm.AddTicks(1), 0, Tm))!
            .Metadata.SequenceNr);

        // Delete from Tm + 1 to Tm + 3 ticks: only 20 goes.
        SnapshotStore.Tell(new DeleteSnapshots(pid,
            new SnapshotSelectionCriteria(long.MaxValue, Tm.AddTicks(3), 0, Tm.AddTicks(1))), TestActor);
        ExpectMsg<DeleteSnapshotsSuccess>(Wait);
        Assert.Equal(30, Load(pid, SnapshotSelectionCriteria.Latest)!.Metadata.SequenceNr);
        Assert.Equal(10, Load(pid, new SnapshotSelectionCriteria(29))!.Metadata.SequenceNr);
    }

    [Fact]
    public void Delete_by_metadata_needs_the_timestamp_to_the_tick()
    {
        var pid = NewId("tick-metadata");
        Save(pid, 10, Tm, "s-10");
        SnapshotStore.Tell(new DeleteSnapshot(new SnapshotMetadata(pid, 10, Tm.AddTicks(1))), TestActor);
        ExpectMsg<DeleteSnapshotSuccess>(Wait);
        Assert.Equal(10, Load(pid, SnapshotSelectionCriteria.Latest)!.Metadata.SequenceNr);
        SnapshotStore.Tell(new DeleteSnapshot(new SnapshotMetadata(pid, 10, Tm)), TestActor);
        ExpectMsg<DeleteSnapshotSuccess>(Wait);
        Assert.Null(Load(pid, SnapshotSelectionCriteria.Latest));
    }

    // ---- back-to-back saves take effect in the order they were made -----------

    [Fact]
    public void The_last_of_back_to_back_saves_at_one_sequence_number_wins()
    {
        const int rounds = 200;
        const int saves = 4;
        var pid = NewId("back-to-back");
        var wrong = new List<string>();
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < saves; i++)
                SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(pid, 7, T0.AddSeconds(round * saves + i)),
                    $"r{round}-s{i}"), TestActor);
            for (int i = 0; i < saves; i++) ExpectMsg<SaveSnapshotSuccess>(Wait);
            var loaded = (string)Load(pid, SnapshotSelectionCriteria.Latest)!.Snapshot;
            if (loaded != $"r{round}-s{saves - 1}") wrong.Add($"round {round}: {loaded}");
        }
        Assert.Empty(wrong);
    }
}
