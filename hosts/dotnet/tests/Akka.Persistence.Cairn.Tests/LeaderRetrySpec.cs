using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Cairn.Remote;
using Google.Protobuf;
using Xunit;
using P = Cairn.Protocol.V1;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>
/// A loopback server speaking the client protocol (schemas/cairn/v1/client.proto)
/// whose appends answer what the test says: to see what the client sends on
/// its retries (the same idempotency key) and the paths two real nodes do not
/// reach on demand (no leader known, an election).
/// </summary>
internal sealed class FakeNode : IDisposable {
  private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
  private readonly CancellationTokenSource _stop = new();
  private readonly Func<P.AppendRequest, P.Response?> _onAppend;

  /// <summary><paramref name="onAppend"/> answers an append; null: the
  /// node closes the connection without answering.</summary>
  public FakeNode(Func<P.AppendRequest, P.Response?> onAppend) {
    _onAppend = onAppend;
    _listener.Start();
    _ = AcceptLoop();
  }

  public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
  public string Address => $"127.0.0.1:{Port}";
  public ConcurrentQueue<P.AppendRequest> Appends { get; } = new();

  public static P.Response NotLeader(bool known, string node = "", string address = "") => new() {
    Error =
        new P.Error {
          Code = P.ErrorCode.NotLeader,
          Message = "append refused, nothing written: this node is not the primary",
          Leader = new P.LeaderHint { Known = known, Node = node, Address = address, Epoch = 7 },
        },
  };

  public static P.Response Appended(ulong revision) => new() {
    Append = new P.AppendResponse { FirstRevision = revision, LastRevision = revision }
  };

  private async Task AcceptLoop() {
    try {
      while (!_stop.IsCancellationRequested) {
        var client = await _listener.AcceptTcpClientAsync(_stop.Token);
        _ = Serve(client);
      }
    } catch (Exception) when (_stop.IsCancellationRequested) {
    }
  }

  private async Task Serve(TcpClient client) {
    using var _ = client;
    var stream = client.GetStream();
    var header = new byte[4];
    try {
      while (true) {
        await stream.ReadExactlyAsync(header, _stop.Token);
        var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
        await stream.ReadExactlyAsync(body, _stop.Token);
        var request = P.Request.Parser.ParseFrom(body);
        P.Response ? response;
        switch (request.BodyCase) {
          case P.Request.BodyOneofCase.Hello:
            response = new P.Response { Hello = new P.HelloResponse { ProtocolMajor = 1 } };
            break;
          case P.Request.BodyOneofCase.Append:
            Appends.Enqueue(request.Append);
            response = _onAppend(request.Append);
            if (response == null)
              return;
            break;
          default:
            response = new P.Response {
              Error = new P.Error { Code = P.ErrorCode.UnknownRequest, Message = "fake node" },
            };
            break;
        }
        response.RequestId = request.RequestId;
        var frame = new byte[4 + response.CalculateSize()];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(frame.Length - 4));
        response.WriteTo(frame.AsSpan(4));
        await stream.WriteAsync(frame, _stop.Token);
      }
    } catch (Exception) {
      // The client went away or the node stops.
    }
  }

  public void Dispose() {
    _stop.Cancel();
    _listener.Stop();
  }
}

/// <summary>Leader following against <see cref="FakeNode"/>s: runs in both
/// suites (it needs no cairnd).</summary>
public sealed class LeaderRetrySpec {
  private static readonly EventData[] OneEvent = { new(
      "t", new byte[] { 7 }, ReadOnlyMemory<byte>.Empty, "w", Array.Empty<string>()) };

  private static ReconnectingRemoteStore Store(string endpoints, string more = "") =>
      new(ReplicaGroup.Settings($@"
            mode = remote
            remote {{ endpoints = [{endpoints}], find-leader = off, leader-retry-pause = 1ms {more} }}"));

  [Fact]
  public async Task A_retry_at_the_named_leader_carries_the_same_idempotency_key() {
    using var leader = new FakeNode(
        _ => FakeNode.Appended(1));
    using var replica = new FakeNode(
        _ => FakeNode.NotLeader(true, "y", leader.Address));
    using var store = Store($"\"{replica.Address}\"");

    var result = await store.AppendAsync("s", ExpectedRevision.NoStream, OneEvent);

    Assert.Equal(1UL, result.LastRevision);
    var refused = Assert.Single(replica.Appends);
    var retried = Assert.Single(leader.Appends);
    Assert.Equal(16, refused.IdempotencyKey.Length);
    Assert.Equal(refused.IdempotencyKey, retried.IdempotencyKey);
    Assert.Equal(new RemoteEndpoint("127.0.0.1", leader.Port), store.Target);

    // The next append goes straight to the leader, with a new key.
    await store.AppendAsync("s", ExpectedRevision.Exact(1), OneEvent);
    Assert.Single(replica.Appends);
    Assert.Equal(2, leader.Appends.Count);
    Assert.NotEqual(retried.IdempotencyKey, leader.Appends.Last().IdempotencyKey);
  }

  [Fact]
  public async Task With_no_leader_known_the_next_endpoint_is_tried() {
    using var electing = new FakeNode(
        _ => FakeNode.NotLeader(false));
    using var other = new FakeNode(
        _ => FakeNode.Appended(1));
    using var store = Store($"\"{electing.Address}\", \"{other.Address}\"");

    await store.AppendAsync("s", ExpectedRevision.Any, OneEvent);

    Assert.Single(electing.Appends);
    Assert.Equal(electing.Appends.Single().IdempotencyKey,
                 Assert.Single(other.Appends).IdempotencyKey);
    Assert.Equal(new RemoteEndpoint("127.0.0.1", other.Port), store.Target);
  }

  [Fact]
  public async Task Retries_stop_at_leader_retries_and_the_exception_keeps_the_hint() {
    using var electing = new FakeNode(
        _ => FakeNode.NotLeader(false));
    using var store = Store($"\"{electing.Address}\"", ", leader-retries = 2");

    var ex = await Assert.ThrowsAsync<CairnNotLeaderException>(
        () => store.AppendAsync("s", ExpectedRevision.Any, OneEvent));

    Assert.Equal(3, electing.Appends.Count);
    Assert.Single(electing.Appends.Select(a => a.IdempotencyKey).Distinct());
    Assert.Contains("gave up after 2 retries", ex.Message);
    Assert.NotNull(ex.Leader);
    Assert.False(ex.Leader!.Known);
    Assert.Equal(7UL, ex.Leader.Epoch);
  }

  [Fact]
  public async Task Retries_stop_at_the_budget() {
    // A pause far above the budget: the first retry waits out the budget,
    // and none begins after it.
    using var electing = new FakeNode(
        _ => FakeNode.NotLeader(false));
    using var store =
        Store($"\"{electing.Address}\"",
              ", leader-retries = 100, leader-retry-budget = 200ms, leader-retry-pause = 1h");

    var ex = await Assert.ThrowsAsync<CairnNotLeaderException>(
        () => store.AppendAsync("s", ExpectedRevision.Any, OneEvent));

    Assert.Equal(2, electing.Appends.Count);
    Assert.Contains("gave up after 1 retry", ex.Message);
  }

  [Fact]
  public async Task An_append_whose_connection_breaks_is_sent_again_with_its_key() {
    int seen = 0;
    using var node = new FakeNode(
        _ => Interlocked.Increment(ref seen) == 1 ? null : FakeNode.Appended(1));
    using var store = Store($"\"{node.Address}\"");

    var result = await store.AppendAsync("s", ExpectedRevision.NoStream, OneEvent);

    Assert.Equal(1UL, result.LastRevision);
    Assert.Equal(2, node.Appends.Count);
    Assert.Single(node.Appends.Select(a => a.IdempotencyKey).Distinct());
  }

  [Fact]
  public async Task Lost_connections_are_retried_within_leader_retries_and_then_reported() {
    using var node = new FakeNode(
        _ => null);
    using var store = Store($"\"{node.Address}\"", ", leader-retries = 2");

    var ex = await Assert.ThrowsAsync<CairnException>(
        () => store.AppendAsync("s", ExpectedRevision.Any, OneEvent));

    Assert.Equal(CairnStatus.Io, ex.Status);
    Assert.Contains("gave up after 2 retries", ex.Message);
    Assert.Equal(3, node.Appends.Count);
  }

  [Fact]
  public async Task An_unusable_leader_address_is_reported() {
    using var replica = new FakeNode(
        _ => FakeNode.NotLeader(true, "y", "no-port-here"));
    using var store = Store($"\"{replica.Address}\"");

    var ex = await Assert.ThrowsAsync<CairnNotLeaderException>(
        () => store.AppendAsync("s", ExpectedRevision.Any, OneEvent));

    Assert.Contains("no-port-here", ex.Message);
    Assert.Contains("cannot follow it", ex.Message);
  }
}
