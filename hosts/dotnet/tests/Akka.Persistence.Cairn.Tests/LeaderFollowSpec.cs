using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Cairn.Remote;
using Google.Protobuf;
using Xunit;
using Xunit.Abstractions;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>
/// Two real cairnd processes in a logship group on loopback (docs/replication.md):
/// node "a" starts as primary, "b" as replica, acks async. The remote store is
/// pointed at the replica only; writes must land on the primary, and after
/// <c>promote</c> of b (a learns the newer epoch and steps down) they must
/// follow to b.
/// </summary>
public sealed class ReplicaGroup : IDisposable {
  private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

  public TestStore A { get; }
  public TestStore B { get; }

  public string AddressA => $"127.0.0.1:{A.Port}";
  public string AddressB => $"127.0.0.1:{B.Port}";

  private ReplicaGroup(TestStore a, TestStore b) {
    A = a;
    B = b;
  }

  private static readonly HashSet<int> Picked = new();

  /// <summary>A loopback port nobody listens on now, at random below the
  /// kernel's ephemeral range (32768 up on Linux), so no outgoing connection
  /// of this process or another takes it before cairnd binds it; checked by
  /// a bind and released, and never one picked before in this run (a port
  /// of the ephemeral range, as port 0 gives, once failed a start-up here
  /// with cairnd exiting 2).</summary>
  private static int FreePort() {
    lock (Picked) {
      for (int attempt = 0; attempt < 200; attempt++) {
        int port = Random.Shared.Next(20000, 32000);
        if (Picked.Contains(port))
          continue;
        try {
          var listener = new TcpListener(IPAddress.Loopback, port);
          listener.Start();
          listener.Stop();
        } catch (SocketException) {
          continue;
        }
        Picked.Add(port);
        return port;
      }
    }
    throw new InvalidOperationException("no free loopback port below 32000 in 200 tries");
  }

  public static ReplicaGroup Start() {
    // Every address must be known before either node starts (peers and
    // client-addresses name both); ports picked free just before.
    int clientA = FreePort(), clientB = FreePort(), shipA = FreePort(), shipB = FreePort();
    string peers = $"a=127.0.0.1:{shipA},b=127.0.0.1:{shipB}";
    string clients = $"a=127.0.0.1:{clientA},b=127.0.0.1:{clientB}";
    IEnumerable<string> Node(string dir, string id, int ship, string role) => new[] {
      "--set", "replication.plugin=logship",
      "--set", $"replication.node-id={id}",
      "--set", $"replication.listen=127.0.0.1:{ship}",
      "--set", $"replication.peers={peers}",
      "--set", $"replication.client-addresses={clients}",
      "--set", $"replication.role={role}",
      "--set", "replication.ack=async",
      "--set", $"replication.state-dir={Path.Combine(dir, "logship")}",
    };
    var b = TestStore.Create("remote", dir => Node(dir, "b", shipB, "replica"), clientB);
    try {
      var a = TestStore.Create("remote", dir => Node(dir, "a", shipA, "primary"), clientA);
      return new ReplicaGroup(a, b);
    } catch {
      b.Dispose();
      throw;
    }
  }

  public static CairnSettings Settings(string hocon) =>
      CairnSettings.Create(ConfigurationFactory.ParseString(hocon).WithFallback(
          CairnPersistence.DefaultConfiguration().GetConfig(CairnPersistence.JournalPluginId)));

  /// <summary>A plain connection to one node (no leader following).</summary>
  public static Task<RemoteStore> Connect(TestStore node) => RemoteStore.ConnectAsync(
      Settings($"mode = remote\nremote {{ host = \"127.0.0.1\", port = {node.Port} }}"));

  /// <summary>Waits (bounded) until <paramref name="node"/> reports <paramref
  /// name="role"/>.</summary>
  public static async Task WaitForRole(TestStore node, string role) {
    using var store = await Connect(node);
    var clock = Stopwatch.StartNew();
    string seen = "";
    while (clock.Elapsed < Bound) {
      (seen, _) = await store.ServerInfoAsync();
      if (seen == role)
        return;
      await Task.Delay(20);
    }
    throw new TimeoutException(
        $"the node on port {node.Port} is still {seen}, not {role}, after {Bound}");
  }

  /// <summary>Waits (bounded) until b holds everything a has.</summary>
  public async Task WaitForReplica() {
    using var a = await Connect(A);
    using var b = await Connect(B);
    ulong want = await a.HeadPositionAsync();
    var clock = Stopwatch.StartNew();
    while (clock.Elapsed < Bound) {
      if (await b.HeadPositionAsync() >= want)
        return;
      await Task.Delay(20);
    }
    throw new TimeoutException($"the replica did not reach position {want} in {Bound}");
  }

  /// <summary>Makes b the primary of a new epoch and waits until a has stepped down.</summary>
  public async Task PromoteB() {
    await WaitForReplica();
    using (var b = await Connect(B)) await b.PromoteAsync();
    await WaitForRole(B, "primary");
    await WaitForRole(A, "replica");
  }

  public void Dispose() {
    A.Dispose();
    B.Dispose();
  }
}

[Trait("Category", "RemoteOnly")]
public sealed class LeaderFollowSpec : IDisposable {
  private static readonly EventData[] OneEvent = { new(
      "t", new byte[] { 7 }, ReadOnlyMemory<byte>.Empty, "w", Array.Empty<string>()) };

  private readonly ReplicaGroup _group = ReplicaGroup.Start();

  public void Dispose() => _group.Dispose();

  private static async Task<int> Count(TestStore node, string stream) {
    using var store = await ReplicaGroup.Connect(node);
    return (await store.ReadStreamAsync(stream, 1, ulong.MaxValue, 1000)).Count;
  }

  [Fact]
  public async Task A_replica_refuses_a_write_with_NotLeader_naming_the_leader() {
    using var b = await ReplicaGroup.Connect(_group.B);
    var refused = await Assert.ThrowsAsync<CairnNotLeaderException>(
        () => b.AppendAsync("s", ExpectedRevision.Any, OneEvent));
    Assert.Equal(CairnStatus.NotLeader, refused.Status);
    Assert.NotNull(refused.Leader);
    Assert.True(refused.Leader!.Known);
    Assert.Equal("a", refused.Leader.Node);
    Assert.Equal(_group.AddressA, refused.Leader.Address);
    Assert.True(refused.Leader.Epoch > 0);
    Assert.Contains(_group.AddressA, refused.Message);
    Assert.Equal(0, await Count(_group.A, "s"));
  }

  [Fact]
  public async Task Writes_sent_to_the_replica_land_on_the_primary_and_follow_a_promotion() {
    // find-leader off: the first append meets NOT_LEADER and follows it.
    using var store =
        new ReconnectingRemoteStore(ReplicaGroup.Settings($@"
            mode = remote
            remote {{ endpoints = [""{_group.AddressB}""], find-leader = off }}"));
    var first = await store.AppendAsync("s", ExpectedRevision.NoStream, OneEvent);
    Assert.Equal(1UL, first.LastRevision);
    Assert.Equal(new RemoteEndpoint("127.0.0.1", _group.A.Port), store.Target);
    Assert.Equal(1, await Count(_group.A, "s"));

    await _group.PromoteB();

    // Still connected to a, now a replica: the append follows to b.
    var second = await store.AppendAsync("s", ExpectedRevision.Exact(1), OneEvent);
    Assert.Equal(2UL, second.LastRevision);
    Assert.Equal(new RemoteEndpoint("127.0.0.1", _group.B.Port), store.Target);
    Assert.Equal(2, await Count(_group.B, "s"));
    // Reads go over the same connection, to the leader.
    Assert.Equal(2UL, await store.HeadRevisionAsync("s"));
  }

  [Fact]
  public async Task With_find_leader_the_first_connection_goes_to_the_leader() {
    using var store =
        new ReconnectingRemoteStore(ReplicaGroup.Settings($@"
            mode = remote
            remote {{ endpoints = [""{_group.AddressB}""], find-leader = on }}"));
    await store.HeadPositionAsync();
    Assert.Equal(new RemoteEndpoint("127.0.0.1", _group.A.Port), store.Target);
  }

  [Fact]
  public async Task Retries_are_bounded_and_say_so() {
    // After the promotion a is a replica naming b; with no retries
    // allowed the first refusal is final, and the message says so.
    await _group.PromoteB();
    using var store =
        new ReconnectingRemoteStore(ReplicaGroup.Settings($@"
            mode = remote
            remote {{ endpoints = [""{_group.AddressA}""], find-leader = off, leader-retries = 0 }}"));
    var refused = await Assert.ThrowsAsync<CairnNotLeaderException>(
        () => store.AppendAsync("s", ExpectedRevision.Any, OneEvent));
    Assert.Contains("gave up after 0 retries", refused.Message);
    Assert.Equal("b", refused.Leader?.Node);
    Assert.Equal(0, await Count(_group.B, "s"));
  }

  [Fact]
  public async Task An_append_repeated_with_its_idempotency_key_is_written_once() {
    using var a = await ReplicaGroup.Connect(_group.A);
    var key = RemoteStore.NewIdempotencyKey();
    var once =
        await a.AppendAsync("s", ExpectedRevision.Any, OneEvent, key, completeOnReader: false);
    var again =
        await a.AppendAsync("s", ExpectedRevision.Any, OneEvent, key, completeOnReader: false);
    Assert.Equal(once, again);
    Assert.Equal(1, await Count(_group.A, "s"));
    // A fresh key per call: the store's AppendAsync writes a second time.
    await a.AppendAsync("s", ExpectedRevision.Any, OneEvent);
    Assert.Equal(2, await Count(_group.A, "s"));
  }
}

/// <summary>A persistent actor whose journal names only the replica: its
/// events land on the primary, and after a promotion on the new primary.</summary>
[Trait("Category", "RemoteOnly")]
public sealed class LeaderFollowJournalSpec : Akka.TestKit.Xunit2.TestKit {
  private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
  private readonly ReplicaGroup _group;

  public LeaderFollowJournalSpec(ITestOutputHelper output) : this(ReplicaGroup.Start(), output) {}

  private LeaderFollowJournalSpec(ReplicaGroup group, ITestOutputHelper output)
      : base(ConfigurationFactory
                 .ParseString($@"
akka.loglevel = WARNING
akka.persistence.journal.plugin = ""akka.persistence.journal.cairn""
akka.persistence.snapshot-store.plugin = ""akka.persistence.snapshot-store.cairn""
akka.persistence.journal.cairn {{
  mode = remote
  remote {{ endpoints = [""{group.AddressB}""], find-leader = off }}
}}")
                 .WithFallback(CairnPersistence.DefaultConfiguration()),
             "cairn-leader", output) {
    _group = group;
  }

  protected override void AfterAll() {
    base.AfterAll();
    _group.Dispose();
  }

  [Fact]
  public async Task The_journal_follows_the_leader_across_a_promotion() {
    var pid = $"counter-{Guid.NewGuid():N}";
    var counter = Sys.ActorOf(CounterActor.Props(pid));
    for (int i = 1; i <= 3; i++) {
      counter.Tell(new CounterActor.Add(i));
      ExpectMsg<long>((long)i, Wait);
    }
    using (var a = await ReplicaGroup.Connect(_group.A))
        Assert.Equal(3UL, await a.HeadRevisionAsync(pid));

    await _group.PromoteB();

    counter.Tell(new CounterActor.Add(4));
    ExpectMsg<long>(4L, Wait);
    using (var b = await ReplicaGroup.Connect(_group.B))
        Assert.Equal(4UL, await b.HeadRevisionAsync(pid));

    // Recovery reads where the journal now writes: all four events.
    Watch(counter);
    counter.Tell(PoisonPill.Instance);
    ExpectTerminated(counter, Wait);
    var revived = Sys.ActorOf(CounterActor.Props(pid));
    revived.Tell(CounterActor.Get.Instance);
    var state = ExpectMsg<CounterActor.State>(Wait);
    Assert.Equal(10, state.Total);
    Assert.Equal(4, state.LastSequenceNr);
  }
}
