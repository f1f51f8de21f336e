namespace Akka.Persistence.Cairn.Client;

/// <summary>The store's status codes (the plugin ABI's cairn_status).</summary>
public enum CairnStatus {
  Ok = 0,
  InvalidArgument = 1,
  NotFound = 2,
  WrongExpectedRevision = 3,
  Corruption = 4,
  Integrity = 5,
  Io = 6,
  Unsupported = 7,
  Closed = 8,
  ResourceExhausted = 9,
  Timeout = 10,
  FailedPrecondition = 11,
  Internal = 12,
  /// <summary>This node does not take writes (a replica of a replication
  /// group, or a primary deposed while the write ran):
  /// <see cref="CairnNotLeaderException"/>.</summary>
  NotLeader = 13,
}

/// <summary>A store call that failed: the code and the store's message.</summary>
public class CairnException : Exception {
  public CairnException(CairnStatus status, string message) : base($"{status}: {message}") {
    Status = status;
    StoreMessage = message;
  }

  public CairnStatus Status { get; }
  public string StoreMessage { get; }
}

/// <summary>Who leads a replica group, as the node that refused a write knows
/// it (the protocol's <c>LeaderHint</c>). <paramref name="Known"/> false: an
/// election is under way. <paramref name="Address"/> is the leader's client
/// address <c>host:port</c>, empty when the node does not know it.</summary>
public sealed record LeaderHint(bool Known, string Node, string Address, ulong Epoch) {
  public override string ToString() =>
      !Known
          ? $"no leader known (epoch {Epoch})"
          : $"leader '{Node}'{(Address.Length > 0 ? " at " + Address : " (address unknown)")} (epoch {Epoch})";
}

/// <summary>A write refused with <see cref="CairnStatus.NotLeader"/>: the
/// node is not its replica group's primary. <see cref="Leader"/> names the
/// node that is, as far as the refusing node knows; null when it said nothing
/// (embedded, with a libcairn-c older than C API 1.2).</summary>
public sealed class CairnNotLeaderException : CairnException {
  public CairnNotLeaderException(string message, LeaderHint? leader)
      : base(CairnStatus.NotLeader, message) {
    Leader = leader;
  }

  public LeaderHint? Leader { get; }
}

/// <summary>An event as a writer hands it to <see cref="ICairnStore.AppendAsync"/>.</summary>
public sealed record EventData(
    string Type,
    ReadOnlyMemory<byte> Data,
    ReadOnlyMemory<byte> Metadata,
    string Writer,
    IReadOnlyList<string> Tags,
    long TimestampUs = 0);

/// <summary>An event as read back.</summary>
public sealed record RecordedEvent(
    string Stream,
    ulong Revision,
    ulong Position,
    string Type,
    long TimestampUs,
    string Writer,
    byte[] Metadata,
    byte[] Data,
    IReadOnlyList<string> Tags);

public enum ExpectedKind
{
    Any = 0,
    NoStream = 1,
    Exact = 2,
}

/// <summary>The revision an append expects its stream to be at.</summary>
public readonly record struct ExpectedRevision(ExpectedKind Kind, ulong Revision)
{
    public static ExpectedRevision Any => new(ExpectedKind.Any, 0);
    public static ExpectedRevision NoStream => new(ExpectedKind.NoStream, 0);
    public static ExpectedRevision Exact(ulong revision) => new(ExpectedKind.Exact, revision);

    /// <summary>NoStream for 0, Exact otherwise: "the head is <paramref name="head"/>".</summary>
    public static ExpectedRevision At(ulong head) => head == 0 ? NoStream : Exact(head);
}

public readonly record struct AppendResult(
    ulong FirstRevision, ulong LastRevision, ulong FirstPosition, ulong LastPosition);

public sealed record SnapshotRecord(string Stream, ulong Revision, long TimestampUs, byte[] Data);

/// <summary>Inclusive bounds; the defaults match every snapshot.</summary>
public readonly record struct SnapshotCriteria(
    ulong MinRevision, ulong MaxRevision, long MinTimestampUs, long MaxTimestampUs)
{
    public static SnapshotCriteria All => new(0, ulong.MaxValue, long.MinValue, long.MaxValue);
}

public sealed record StreamInfo(string Name, ulong Ordinal, ulong HeadRevision, ulong DeletedTo);

public enum SubscriptionKind
{
    Stream = 0,
    Tag = 1,
    All = 2,
}
