using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Net.Sockets;
using System.Threading.Channels;
using Akka.Persistence.Cairn.Client;
using Google.Protobuf;
using P = Cairn.Protocol.V1;

namespace Akka.Persistence.Cairn.Remote;

/// <summary>
/// A store reached over the cairnd client protocol (schemas/cairn/v1/client.proto):
/// length-prefixed protobuf frames over one TCP (optionally TLS) connection,
/// requests pipelined and matched to responses by request id, subscriptions
/// pushed by the server within the credit this client grants.
/// <para>
/// Every operation puts its request on the connection's outgoing queue before
/// it returns (before its first await), and one writer sends the queue in
/// order, frames that queued up together in one write. So requests go out in
/// the order the operations were called, which the server's per-stream
/// ordering (docs/server.md, "Ordering") turns into the order they take effect.
/// </para>
/// </summary>
public sealed class RemoteStore : ICairnStore
{
    private const uint InitialCredit = 1024;

    private readonly string _endpoint;
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    // The outgoing queue: frames in call order; one writer at a time drains it.
    private readonly object _outGate = new();
    private List<byte[]> _out = new();
    private List<byte[]> _spare = new();
    private bool _writing;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<P.Response>> _pending = new();
    private readonly ConcurrentDictionary<ulong, RemoteSubscription> _subscriptions = new();
    private readonly TimeSpan _requestTimeout;
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _reader;
    private long _nextId;
    private int _maxFrame = 4 << 20;
    private volatile Exception? _broken;

    /// <summary>True once the connection has failed or closed; every call then fails.</summary>
    public bool IsBroken => _broken != null;

    private RemoteStore(string endpoint, TcpClient tcp, Stream stream, TimeSpan requestTimeout)
    {
        _endpoint = endpoint;
        _tcp = tcp;
        _stream = stream;
        _requestTimeout = requestTimeout;
        _reader = Task.Run(ReadLoopAsync);
    }

    /// <summary>The node this connection goes to.</summary>
    public RemoteEndpoint Endpoint { get; private init; } = null!;

    /// <summary>True while a subscription is open on this connection.</summary>
    internal bool HasSubscriptions => !_subscriptions.IsEmpty;

    /// <summary>Connects to the first configured endpoint.</summary>
    public static Task<RemoteStore> ConnectAsync(CairnSettings settings) =>
        ConnectAsync(settings, settings.Endpoints[0]);

    public static async Task<RemoteStore> ConnectAsync(CairnSettings settings,
                                                       RemoteEndpoint target) {
      string endpoint = $"cairnd at {target}";
      var tcp = new TcpClient { NoDelay = true };
      using (var timeout = new CancellationTokenSource(settings.ConnectTimeout)) {
        try {
          await tcp.ConnectAsync(target.Host, target.Port, timeout.Token).ConfigureAwait(false);
        } catch (Exception ex) when (ex is SocketException or OperationCanceledException) {
          tcp.Dispose();
          throw new CairnException(
              CairnStatus.Io,
              $"cannot connect to {endpoint} within {settings.ConnectTimeout.TotalSeconds:0.#} s: {ex.Message}; " +
                  "is cairnd running and are remote.endpoints (or remote.host/remote.port) right?");
        }
      }
      Stream stream = tcp.GetStream();
      if (settings.RemoteTls) {
        SslStreamCertificateContext ? client;
        try {
          client = ClientCertificate(settings);
        } catch {
          tcp.Dispose();
          throw;
        }
        var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
        try {
          await ssl
              .AuthenticateAsClientAsync(new SslClientAuthenticationOptions {
                TargetHost = target.Host,
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    ValidateServer(certificate, errors, settings.RemoteTlsCaFile),
                ClientCertificateContext = client,
              })
              .ConfigureAwait(false);
        } catch (Exception ex) when (ex is AuthenticationException or IOException) {
          ssl.Dispose();
          tcp.Dispose();
          throw new CairnException(
              CairnStatus.Io,
              $"TLS with {endpoint} failed: {ex.Message}; check remote.tls-ca-file and that the server's " +
                  $"certificate names {target.Host}" +
                  (client == null
                       ? "; if cairnd requires client certificates (mutual TLS), set remote.tls-cert-file and " +
                             "remote.tls-key-file"
                       : "; if cairnd requires client certificates, check that its [tls] ca-file signed " +
                             settings.RemoteTlsCertFile));
        }
        stream = ssl;
      }
      var store =
          new RemoteStore(endpoint, tcp, stream, settings.RequestTimeout) { Endpoint = target };
      try {
        var hello = await store
                        .CallAsync(new P.Request {
                          Hello =
                              new P.HelloRequest {
                                ProtocolMajor = 1,
                                ProtocolMinor = 0,
                                ClientName = "Akka.Persistence.Cairn",
                              },
                        })
                        .ConfigureAwait(false);
        if (hello.Hello.MaxFrame > 0)
          store._maxFrame = (int)Math.Min(int.MaxValue, hello.Hello.MaxFrame);
      } catch (CairnException ex)
          when (settings.RemoteTls && ex.Status is CairnStatus.Io or CairnStatus.Closed) {
        // Under TLS 1.3 the server checks a client certificate after the
        // client's side of the handshake is done, so a refusal shows up
        // as the connection closing on the first request.
        store.Dispose();
        throw new CairnException(
            CairnStatus.Io,
            $"{endpoint} closed the TLS connection before answering ({ex.Message}); " +
                (settings.RemoteTlsCertFile == null
                     ? "if it requires client certificates (mutual TLS: [tls] ca-file in its site file), set " +
                           "remote.tls-cert-file and remote.tls-key-file to a certificate its CA signed"
                     : $"if it requires client certificates, check that its [tls] ca-file signed " +
                           $"{settings.RemoteTlsCertFile} and that the certificate has not expired"));
      } catch {
        store.Dispose();
        throw;
      }
      return store;
    }

    /// <summary>The client certificate for mutual TLS, or null when none is
    /// configured. The certificate file may hold intermediates after the leaf;
    /// they are sent along so the server can build the chain to its CA.</summary>
    private static SslStreamCertificateContext? ClientCertificate(CairnSettings settings)
    {
        if (settings.RemoteTlsCertFile == null || settings.RemoteTlsKeyFile == null) return null;
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(settings.RemoteTlsCertFile, settings.RemoteTlsKeyFile);
            // A PEM key is ephemeral; some platforms (Windows SChannel) need
            // it in a key store to sign the handshake, so round-trip PKCS#12.
            var leaf = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            var all = new X509Certificate2Collection();
            all.ImportFromPemFile(settings.RemoteTlsCertFile);
            var intermediates = new X509Certificate2Collection();
            foreach (var c in all)
                if (c.Thumbprint != leaf.Thumbprint) intermediates.Add(c);
            return SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or
                                       System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new CairnException(CairnStatus.InvalidArgument,
                $"cannot load the client certificate {settings.RemoteTlsCertFile} with key " +
                $"{settings.RemoteTlsKeyFile}: {ex.Message}; both must be PEM files, the key unencrypted and " +
                "belonging to the certificate");
        }
    }

    /// <summary>With no CA file, the system's trust store decides; with one
    /// (a site's private CA, as air-gapped sites use), the server's chain must
    /// end at that CA and its name must match.</summary>
    private static bool ValidateServer(X509Certificate? certificate, SslPolicyErrors errors, string? caFile)
    {
        if (caFile == null) return errors == SslPolicyErrors.None;
        if (certificate == null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable |
                                              SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
            return false;
        using var ca = X509Certificate2.CreateFromPem(File.ReadAllText(caFile));
        using var server = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(server);
    }

    public void Dispose()
    {
        if (_closing.IsCancellationRequested) return;
        _closing.Cancel();
        Fail(new CairnException(CairnStatus.Closed, $"the connection to {_endpoint} is closed"));
        _stream.Dispose();
        _tcp.Dispose();
        try
        {
            _reader.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }

    // ---- the store's operations ------------------------------------------

    public Task<AppendResult> AppendAsync(string stream, ExpectedRevision expected,
                                          IReadOnlyList<EventData> events) =>
        AppendAsync(stream, expected, events, NewIdempotencyKey(), completeOnReader: false);

    /// <summary>16 random bytes, as the C++ client uses: an append's
    /// idempotency key, sent unchanged on each retry of that append.</summary>
    internal static ByteString NewIdempotencyKey() {
      Span<byte> key = stackalloc byte[16];
      Random.Shared.NextBytes(key);
      return ByteString.CopyFrom(key);
    }

    /// <summary>An append; with <paramref name="completeOnReader"/> its task
    /// completes in this connection's read loop, right where the answer is
    /// read, and what continues runs synchronously there: no second hand-off
    /// to the thread pool between the answer and the caller. Only for callers
    /// whose continuations are short and never wait (the journal's lanes):
    /// while one runs, no further answer is read, so a continuation that
    /// waited for another answer would wait for itself.</summary>
    internal async Task<AppendResult> AppendAsync(string stream, ExpectedRevision expected,
                                                  IReadOnlyList<EventData> events,
                                                  ByteString idempotencyKey,
                                                  bool completeOnReader) {
      var append = new P.AppendRequest {
        Stream = stream,
        ExpectedKind = (P.ExpectedKind)(int)expected.Kind,
        ExpectedRevision = expected.Revision,
        IdempotencyKey = idempotencyKey,
      };
      foreach (var ev in events) {
        var data = new P.EventData {
          Type = ev.Type,
          Data = ByteString.CopyFrom(ev.Data.Span),
          Metadata = ByteString.CopyFrom(ev.Metadata.Span),
          Writer = ev.Writer,
          TimestampUs = ev.TimestampUs,
        };
        data.Tags.AddRange(ev.Tags);
        append.Events.Add(data);
      }
      var r = (await CallAsync(new P.Request { Append = append }, completeOnReader)
                   .ConfigureAwait(false))
                  .Append;
      return new AppendResult(r.FirstRevision, r.LastRevision, r.FirstPosition, r.LastPosition);
    }

    public async Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string stream, ulong fromRevision,
        ulong toRevision, ulong maxCount)
    {
        var all = new List<RecordedEvent>();
        ulong from = Math.Max(1, fromRevision);
        while (maxCount > (ulong)all.Count && from <= toRevision)
        {
            var read = (await CallAsync(new P.Request
            {
                ReadStream = new P.ReadStreamRequest
                {
                    Stream = stream,
                    FromRevision = from,
                    ToRevision = toRevision == ulong.MaxValue ? 0 : toRevision,
                    MaxCount = PageCount(maxCount - (ulong)all.Count),
                },
            }).ConfigureAwait(false)).Read;
            foreach (var ev in read.Events) all.Add(Convert(ev));
            if (read.End || read.Events.Count == 0) break;
            from = read.NextRevision;
        }
        return all;
    }

    public Task<IReadOnlyList<RecordedEvent>> ReadTagAsync(string tag, ulong afterPosition, ulong maxCount) =>
        ReadPositionsAsync(afterPosition, maxCount,
            (after, max) => new P.Request { ReadTag = new P.ReadTagRequest { Tag = tag, AfterPosition = after, MaxCount = max } });

    public Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(ulong afterPosition, ulong maxCount) =>
        ReadPositionsAsync(afterPosition, maxCount,
            (after, max) => new P.Request { ReadAll = new P.ReadAllRequest { AfterPosition = after, MaxCount = max } });

    private async Task<IReadOnlyList<RecordedEvent>> ReadPositionsAsync(ulong after, ulong maxCount,
        Func<ulong, long, P.Request> request)
    {
        var all = new List<RecordedEvent>();
        while (maxCount > (ulong)all.Count)
        {
            var read = (await CallAsync(request(after, PageCount(maxCount - (ulong)all.Count)))
                .ConfigureAwait(false)).Read;
            foreach (var ev in read.Events) all.Add(Convert(ev));
            if (read.End || read.Events.Count == 0) break;
            after = read.NextAfterPosition;
        }
        return all;
    }

    public async Task<ulong> HeadRevisionAsync(string stream) =>
        (await CallAsync(new P.Request { Head = new P.HeadRequest { Stream = stream } }).ConfigureAwait(false))
        .Head.HeadRevision;

    /// <summary>The node's role ("standalone", "primary", "replica") and
    /// the leader it knows (server_info: needs the admin right under access
    /// control).</summary>
    internal async Task<(string Role, LeaderHint Leader)> ServerInfoAsync() {
      var info = (await CallAsync(new P.Request { ServerInfo = new P.ServerInfoRequest() })
                      .ConfigureAwait(false))
                     .ServerInfo;
      return (info.Role, Hint(info.Leader));
    }

    /// <summary>Makes this node the primary of a new epoch (admin right).</summary>
    internal Task PromoteAsync() => CallAsync(new P.Request { Promote = new P.PromoteRequest() });

    public async Task<ulong> HeadPositionAsync() =>
        (await CallAsync(new P.Request { Head = new P.HeadRequest() }).ConfigureAwait(false)).Head.HeadPosition;

    public async Task DeleteToAsync(string stream, ulong revision)
    {
        // The store's contract is "revisions <= N"; "everything" is the head.
        ulong head = await HeadRevisionAsync(stream).ConfigureAwait(false);
        ulong to = Math.Min(head, revision);
        if (to == 0) return;
        await CallAsync(new P.Request { DeleteTo = new P.DeleteToRequest { Stream = stream, Revision = to } })
            .ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<StreamInfo>> ListStreamsAsync(ulong afterOrdinal, ulong maxCount)
    {
        var all = new List<StreamInfo>();
        while (maxCount > (ulong)all.Count)
        {
            var r = (await CallAsync(new P.Request
            {
                ListStreams = new P.ListStreamsRequest
                {
                    AfterOrdinal = afterOrdinal, MaxCount = PageCount(maxCount - (ulong)all.Count),
                },
            }).ConfigureAwait(false)).Streams;
            foreach (var s in r.Streams) all.Add(new StreamInfo(s.Name.ToStringUtf8(), s.Ordinal, s.HeadRevision, s.DeletedTo));
            if (r.End || r.Streams.Count == 0) break;
            afterOrdinal = r.NextAfterOrdinal;
        }
        return all;
    }

    public Task SaveSnapshotAsync(string stream, ulong revision, long timestampUs, ReadOnlyMemory<byte> data) =>
        CallAsync(new P.Request
        {
            SaveSnapshot = new P.SaveSnapshotRequest
            {
                Snapshot = new P.Snapshot
                {
                    Stream = stream, Revision = revision, TimestampUs = timestampUs,
                    Data = ByteString.CopyFrom(data.Span),
                },
            },
        });

    public async Task<SnapshotRecord?> LoadSnapshotAsync(string stream, SnapshotCriteria criteria)
    {
        var r = (await CallAsync(new P.Request
        {
            LoadSnapshot = new P.LoadSnapshotRequest { Stream = stream, Criteria = Criteria(criteria) },
        }).ConfigureAwait(false)).Snapshot;
        if (!r.Found) return null;
        return new SnapshotRecord(r.Snapshot.Stream, r.Snapshot.Revision, r.Snapshot.TimestampUs,
            r.Snapshot.Data.ToByteArray());
    }

    public Task DeleteSnapshotAsync(string stream, ulong revision) =>
        CallAsync(new P.Request
        {
            DeleteSnapshot = new P.DeleteSnapshotRequest { Stream = stream, Revision = revision },
        });

    public Task DeleteSnapshotsAsync(string stream, SnapshotCriteria criteria) =>
        CallAsync(new P.Request
        {
            DeleteSnapshots = new P.DeleteSnapshotsRequest { Stream = stream, Criteria = Criteria(criteria) },
        });

    public Task<ICairnSubscription> SubscribeAsync(SubscriptionKind kind, string name, ulong after)
    {
        ulong id = (ulong)Interlocked.Increment(ref _nextId);
        var subscription = new RemoteSubscription(this, id);
        _subscriptions[id] = subscription;
        var request = new P.Request
        {
            RequestId = id,
            Subscribe = new P.SubscribeRequest
            {
                Kind = kind switch
                {
                    SubscriptionKind.Stream => P.SubscriptionKind.SubscribeStream,
                    SubscriptionKind.Tag => P.SubscriptionKind.SubscribeTag,
                    _ => P.SubscriptionKind.SubscribeAll,
                },
                Name = name,
                After = after,
                InitialCredit = InitialCredit,
            },
        };
        try
        {
            Send(request);
        }
        catch (Exception ex)
        {
            _subscriptions.TryRemove(id, out _);
            return Task.FromException<ICairnSubscription>(ex);
        }
        return Task.FromResult<ICairnSubscription>(subscription);
    }

    // ---- plumbing -----------------------------------------------------------

    private static long PageCount(ulong wanted) => (long)Math.Min(wanted, 1UL << 30);

    private static P.SnapshotCriteria Criteria(SnapshotCriteria c)
    {
        var p = new P.SnapshotCriteria();
        if (c.MinRevision != 0) p.MinRevision = c.MinRevision;
        if (c.MaxRevision != ulong.MaxValue) p.MaxRevision = c.MaxRevision;
        if (c.MinTimestampUs != long.MinValue) p.MinTimestampUs = c.MinTimestampUs;
        if (c.MaxTimestampUs != long.MaxValue) p.MaxTimestampUs = c.MaxTimestampUs;
        return p;
    }

    private static RecordedEvent Convert(P.RecordedEvent e) =>
        new(e.Stream.ToStringUtf8(), e.Revision, e.Position, e.Type.ToStringUtf8(), e.TimestampUs,
            e.Writer.ToStringUtf8(), e.Metadata.ToByteArray(), e.Data.ToByteArray(),
            e.Tags.Select(t => t.ToStringUtf8()).ToArray());

    private static LeaderHint Hint(P.LeaderHint? h) => h == null
                                                           ? new LeaderHint(false, "", "", 0)
                                                           : new LeaderHint(h.Known, h.Node,
                                                                            h.Address, h.Epoch);

    private CairnException ToException(P.Error error)
    {
        int code = (int)error.Code;
        if (error.Code == P.ErrorCode.NotLeader) {
          var leader = Hint(error.Leader);
          return new CairnNotLeaderException($"{_endpoint}: {error.Message} [{leader}]", leader);
        }
        var status = code is >= 1 and <= 12 ? (CairnStatus)code : CairnStatus.FailedPrecondition;
        string prefix = code >= 100 ? $"{_endpoint}: {error.Code}: " : "";
        return new CairnException(status, prefix + error.Message);
    }

    /// <summary>Sends <paramref name="request"/> and waits for its answer.
    /// The caller's continuation runs on the thread pool, or, with
    /// <paramref name="completeOnReader"/>, in the read loop.</summary>
    private async Task<P.Response> CallAsync(P.Request request, bool completeOnReader = false)
    {
        ulong id = (ulong)Interlocked.Increment(ref _nextId);
        request.RequestId = id;
        var done = new TaskCompletionSource<P.Response>(completeOnReader
            ? TaskCreationOptions.None
            : TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = done;
        try
        {
            Send(request);
            var response = await done.Task.WaitAsync(_requestTimeout).ConfigureAwait(false);
            if (response.Error != null && response.Error.Code != P.ErrorCode.Ok) throw ToException(response.Error);
            return response;
        }
        catch (TimeoutException)
        {
            throw new CairnException(CairnStatus.Timeout,
                $"{_endpoint} did not answer a {request.BodyCase} request within {_requestTimeout.TotalSeconds:0.#} s");
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Queues <paramref name="request"/> for sending, in call order;
    /// throws at once if the connection is broken or the request is over the
    /// server's max-frame. A failed write breaks the connection, which fails
    /// every waiting call.</summary>
    internal void Send(P.Request request)
    {
        if (_broken != null) throw _broken;
        int size = request.CalculateSize();
        if (size > _maxFrame)
            throw new CairnException(CairnStatus.ResourceExhausted,
                $"a {request.BodyCase} request of {size} bytes is over {_endpoint}'s max-frame of {_maxFrame} bytes; " +
                "write smaller batches or raise the server's [limits] max-frame");
        var frame = new byte[4 + size];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)size);
        request.WriteTo(frame.AsSpan(4));
        lock (_outGate)
        {
            if (_broken != null) throw _broken;
            _out.Add(frame);
            if (_writing) return;
            _writing = true;
        }
        // This thread writes until the queue is empty or the socket makes it
        // wait; the rest goes on wherever that write completes.
        _ = WriteLoopAsync();
    }

    // Frames that queued up together go out in writes of up to this size.
    private const int CoalesceBytes = 256 << 10;

    private async Task WriteLoopAsync()
    {
        try
        {
            while (true)
            {
                List<byte[]> batch;
                lock (_outGate)
                {
                    if (_out.Count == 0 || _broken != null)
                    {
                        _out.Clear();
                        _writing = false;
                        return;
                    }
                    batch = _out;
                    _out = _spare;
                    _spare = batch;
                }
                int i = 0;
                while (i < batch.Count)
                {
                    if (batch[i].Length >= CoalesceBytes || i + 1 == batch.Count)
                    {
                        await _stream.WriteAsync(batch[i]).ConfigureAwait(false);
                        i++;
                        continue;
                    }
                    int n = 0, bytes = 0;
                    while (i + n < batch.Count && bytes + batch[i + n].Length <= CoalesceBytes)
                        bytes += batch[i + n++].Length;
                    var joined = new byte[bytes];
                    for (int k = 0, at = 0; k < n; k++)
                    {
                        batch[i + k].CopyTo(joined, at);
                        at += batch[i + k].Length;
                    }
                    await _stream.WriteAsync(joined).ConfigureAwait(false);
                    i += n;
                }
                batch.Clear();
            }
        }
        catch (Exception ex)
        {
            Fail(ex as CairnException ?? new CairnException(CairnStatus.Io,
                $"lost the connection to {_endpoint}: {ex.Message}"));
            lock (_outGate)
            {
                _out.Clear();
                _writing = false;
            }
        }
    }

    private async Task ReadLoopAsync()
    {
        var header = new byte[4];
        try
        {
            while (!_closing.IsCancellationRequested)
            {
                await _stream.ReadExactlyAsync(header, _closing.Token).ConfigureAwait(false);
                uint size = BinaryPrimitives.ReadUInt32BigEndian(header);
                if (size == 0 || size > int.MaxValue)
                    throw new InvalidDataException($"{_endpoint} sent a frame of {size} bytes");
                var body = new byte[size];
                await _stream.ReadExactlyAsync(body, _closing.Token).ConfigureAwait(false);
                Dispatch(P.Response.Parser.ParseFrom(body));
            }
        }
        catch (Exception ex)
        {
            Fail(_closing.IsCancellationRequested
                ? new CairnException(CairnStatus.Closed, $"the connection to {_endpoint} is closed")
                : new CairnException(CairnStatus.Io, $"lost the connection to {_endpoint}: {ex.Message}"));
        }
    }

    // Not inlined: a test looks for it on the stack of a lane's continuation.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void Dispatch(P.Response response)
    {
        if (response.RequestId == 0 && response.Error != null && response.Error.Code != P.ErrorCode.Ok)
        {
            Fail(ToException(response.Error));
            return;
        }
        if (_subscriptions.TryGetValue(response.RequestId, out var subscription))
        {
            switch (response.BodyCase)
            {
                case P.Response.BodyOneofCase.Events:
                    subscription.Deliver(response.Events.Events.Select(Convert).ToList());
                    return;
                case P.Response.BodyOneofCase.Ended:
                    _subscriptions.TryRemove(response.RequestId, out _);
                    if (response.Error != null && response.Error.Code != P.ErrorCode.Ok)
                        subscription.Fail(ToException(response.Error));
                    else subscription.End();
                    return;
                case P.Response.BodyOneofCase.Subscribed:
                    return;
                default:
                    if (response.Error != null && response.Error.Code != P.ErrorCode.Ok)
                    {
                        _subscriptions.TryRemove(response.RequestId, out _);
                        subscription.Fail(ToException(response.Error));
                    }
                    return;
            }
        }
        if (_pending.TryGetValue(response.RequestId, out var waiter)) waiter.TrySetResult(response);
    }

    private void Fail(Exception error)
    {
        _broken ??= error;
        foreach (var (_, waiter) in _pending) waiter.TrySetException(error);
        foreach (var (_, sub) in _subscriptions) sub.Fail(error);
        _subscriptions.Clear();
    }

    internal void Forget(ulong id)
    {
        if (_subscriptions.TryRemove(id, out _) && _broken == null)
        {
            try
            {
                Send(new P.Request
                {
                    RequestId = (ulong)Interlocked.Increment(ref _nextId),
                    Cancel = new P.CancelRequest { SubscriptionId = id },
                });
            }
            catch (CairnException)
            {
                // Broken meanwhile: the server has dropped the subscription.
            }
        }
    }

    /// <summary>Batches the server pushed; credit is granted back as the
    /// consumer takes events, so the server never runs ahead by more than
    /// the initial credit.</summary>
    private sealed class RemoteSubscription : ICairnSubscription
    {
        private readonly RemoteStore _store;
        private readonly ulong _id;
        private readonly Channel<IReadOnlyList<RecordedEvent>> _batches =
            Channel.CreateUnbounded<IReadOnlyList<RecordedEvent>>(new UnboundedChannelOptions { SingleReader = true });
        private IReadOnlyList<RecordedEvent>? _rest;
        private int _disposed;

        public RemoteSubscription(RemoteStore store, ulong id)
        {
            _store = store;
            _id = id;
        }

        public void Deliver(IReadOnlyList<RecordedEvent> events) => _batches.Writer.TryWrite(events);
        public void End() => _batches.Writer.TryComplete();
        public void Fail(Exception error) => _batches.Writer.TryComplete(error);

        public async Task<IReadOnlyList<RecordedEvent>> NextAsync(int maxCount, CancellationToken cancellation)
        {
            if (maxCount <= 0) throw new ArgumentOutOfRangeException(nameof(maxCount), "must be at least 1");
            var batch = _rest;
            _rest = null;
            if (batch == null)
            {
                try
                {
                    batch = await _batches.Reader.ReadAsync(cancellation).ConfigureAwait(false);
                }
                catch (ChannelClosedException ex)
                {
                    throw ex.InnerException ?? new CairnException(CairnStatus.Closed,
                        $"{_store._endpoint} ended the subscription");
                }
                if (batch.Count > 0)
                {
                    _store.Send(new P.Request
                    {
                        RequestId = (ulong)Interlocked.Increment(ref _store._nextId),
                        Credit = new P.CreditRequest { SubscriptionId = _id, Credit = (ulong)batch.Count },
                    });
                }
            }
            if (batch.Count <= maxCount) return batch;
            _rest = batch.Skip(maxCount).ToList();
            return batch.Take(maxCount).ToList();
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _batches.Writer.TryComplete();
            _store.Forget(_id);
        }
    }
}
