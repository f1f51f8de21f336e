using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading.Channels;
using Akka.Persistence.Cairn.Client;

namespace Akka.Persistence.Cairn.Embedded;

/// <summary>
/// A store opened in this process through libcairn-c. Calls run on the
/// caller's thread (the native store is thread-safe); a subscription waits on
/// its own thread, woken by the store's commits. Dispose waits for calls in
/// flight, closes the subscriptions, then the store.
/// </summary>
public sealed unsafe class EmbeddedStore : ICairnStore
{
    internal const int ErrorCapacity = 1024;
    private static readonly UTF8Encoding Utf8 = new(false, true);

    private readonly ReaderWriterLockSlim _closing = new(LockRecursionPolicy.SupportsRecursion);
    private readonly HashSet<EmbeddedSubscription> _subscriptions = new();
    private IntPtr _handle;

    private EmbeddedStore(IntPtr handle) => _handle = handle;

    /// <summary>What libcairn-c says of itself (version and built-in plugins).</summary>
    public static string Describe() => Marshal.PtrToStringUTF8((IntPtr)Native.cairn_c_describe()) ?? "";

    /// <summary>Opens a store from a site file (or the defaults when null) with
    /// "section.key=value" overrides applied after it.</summary>
    public static EmbeddedStore Open(string? siteFile, IReadOnlyList<string> overrides)
    {
        uint version = Native.cairn_c_abi_version();
        if (version >> 16 != Native.AbiMajor || (version & 0xffff) < Native.AbiMinor)
        {
            throw new CairnException(CairnStatus.FailedPrecondition,
                $"libcairn-c speaks C API {version >> 16}.{version & 0xffff}; this assembly needs " +
                $"{Native.AbiMajor}.{Native.AbiMinor} or a later {Native.AbiMajor}.x. " +
                "Ship the libcairn-c.so built with this version of Akka.Persistence.Cairn beside it.");
        }
        var arena = new List<GCHandle>();
        try
        {
            byte* site = null;
            if (siteFile != null) site = Pin(Utf8Z(siteFile), arena);
            var pointers = new IntPtr[overrides.Count];
            for (int i = 0; i < overrides.Count; i++) pointers[i] = (IntPtr)Pin(Utf8Z(overrides[i]), arena);
            byte* error = stackalloc byte[ErrorCapacity];
            var err = new CairnError { Message = error, Capacity = ErrorCapacity };
            IntPtr handle;
            fixed (IntPtr* ov = pointers)
            {
                int status = Native.cairn_store_open(site, (byte**)ov, (nuint)pointers.Length, &handle, &err);
                Check(status, error);
            }
            return new EmbeddedStore(handle);
        }
        finally
        {
            foreach (var h in arena) h.Free();
        }
    }

    public void Dispose()
    {
        List<EmbeddedSubscription> open;
        lock (_subscriptions) open = _subscriptions.ToList();
        foreach (var s in open) s.Dispose();
        _closing.EnterWriteLock();
        try
        {
            if (_handle != IntPtr.Zero) Native.cairn_store_close(_handle);
            _handle = IntPtr.Zero;
        }
        finally
        {
            _closing.ExitWriteLock();
        }
    }

    public void Flush() => Call(h =>
    {
        byte* e = stackalloc byte[ErrorCapacity];
        var err = Err(e);
        Check(Native.cairn_store_flush(h, &err), e);
        return 0;
    });

    public Task<AppendResult> AppendAsync(string stream, ExpectedRevision expected, IReadOnlyList<EventData> events)
    {
        try
        {
            return Task.FromResult(Append(stream, expected, events));
        }
        catch (Exception ex)
        {
            return Task.FromException<AppendResult>(ex);
        }
    }

    /// <summary>The synchronous form of <see cref="AppendAsync"/>.</summary>
    public AppendResult Append(string stream, ExpectedRevision expected, IReadOnlyList<EventData> events)
    {
        // One buffer holds every string and byte string of the batch; the
        // native structs point into it while it is pinned.
        int total = Utf8.GetByteCount(stream);
        int tagCount = 0;
        foreach (var ev in events)
        {
            total += Utf8.GetByteCount(ev.Type) + ev.Data.Length + ev.Metadata.Length + Utf8.GetByteCount(ev.Writer);
            foreach (var t in ev.Tags) total += Utf8.GetByteCount(t);
            tagCount += ev.Tags.Count;
        }
        var buffer = new byte[Math.Max(total, 1)];
        var natives = new CairnEvent[Math.Max(events.Count, 1)];
        var pointers = new IntPtr[Math.Max(events.Count, 1)];
        var tags = new CairnBytes[Math.Max(tagCount, 1)];
        return Call(h =>
        {
            fixed (byte* b = buffer)
            fixed (CairnEvent* evs = natives)
            fixed (IntPtr* evPointers = pointers)
            fixed (CairnBytes* tagViews = tags)
            {
                int offset = 0;
                var streamView = PutString(buffer, b, ref offset, stream);
                int tag = 0;
                for (int i = 0; i < events.Count; i++)
                {
                    var ev = events[i];
                    evs[i].Size = (uint)sizeof(CairnEvent);
                    evs[i].Type = PutString(buffer, b, ref offset, ev.Type);
                    evs[i].Data = PutBytes(buffer, b, ref offset, ev.Data);
                    evs[i].Metadata = PutBytes(buffer, b, ref offset, ev.Metadata);
                    evs[i].Writer = PutString(buffer, b, ref offset, ev.Writer);
                    evs[i].TimestampUs = ev.TimestampUs;
                    evs[i].TagCount = (uint)ev.Tags.Count;
                    evs[i].Tags = tagViews + tag;
                    foreach (var t in ev.Tags) tagViews[tag++] = PutString(buffer, b, ref offset, t);
                    evPointers[i] = (IntPtr)(evs + i);
                }
                byte* e = stackalloc byte[ErrorCapacity];
                var err = Err(e);
                CairnAppendResult result = new() { Size = (uint)sizeof(CairnAppendResult) };
                Check(Native.cairn_append_events(h, streamView, (int)expected.Kind, expected.Revision,
                    (CairnEvent**)evPointers, (nuint)events.Count, &result, &err), e);
                return new AppendResult(result.FirstRevision, result.LastRevision, result.FirstPosition,
                    result.LastPosition);
            }
        });
    }

    public Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string stream, ulong fromRevision, ulong toRevision,
        ulong maxCount) => Run(() => ReadStream(stream, fromRevision, toRevision, maxCount));

    public IReadOnlyList<RecordedEvent> ReadStream(string stream, ulong fromRevision, ulong toRevision, ulong maxCount)
    {
        var sink = new EventSink();
        var name = Utf8.GetBytes(stream);
        Call(h =>
        {
            var ctx = GCHandle.Alloc(sink);
            try
            {
                fixed (byte* n = name)
                {
                    byte* e = stackalloc byte[ErrorCapacity];
                    var err = Err(e);
                    int status = Native.cairn_read_stream(h, View(n, name.Length), fromRevision, toRevision, maxCount,
                        &OnEvent, GCHandle.ToIntPtr(ctx), &err);
                    sink.Rethrow();
                    Check(status, e);
                }
            }
            finally
            {
                ctx.Free();
            }
            return 0;
        });
        return sink.Events;
    }

    public Task<IReadOnlyList<RecordedEvent>> ReadTagAsync(string tag, ulong afterPosition, ulong maxCount) =>
        Run(() => ReadTag(tag, afterPosition, maxCount));

    public IReadOnlyList<RecordedEvent> ReadTag(string tag, ulong afterPosition, ulong maxCount)
    {
        var sink = new EventSink();
        var name = Utf8.GetBytes(tag);
        Call(h =>
        {
            var ctx = GCHandle.Alloc(sink);
            try
            {
                fixed (byte* n = name)
                {
                    byte* e = stackalloc byte[ErrorCapacity];
                    var err = Err(e);
                    int status = Native.cairn_read_tag(h, View(n, name.Length), afterPosition, maxCount, &OnEvent,
                        GCHandle.ToIntPtr(ctx), &err);
                    sink.Rethrow();
                    Check(status, e);
                }
            }
            finally
            {
                ctx.Free();
            }
            return 0;
        });
        return sink.Events;
    }

    public Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(ulong afterPosition, ulong maxCount) =>
        Run(() => ReadAll(afterPosition, maxCount));

    public IReadOnlyList<RecordedEvent> ReadAll(ulong afterPosition, ulong maxCount)
    {
        var sink = new EventSink();
        Call(h =>
        {
            var ctx = GCHandle.Alloc(sink);
            try
            {
                byte* e = stackalloc byte[ErrorCapacity];
                var err = Err(e);
                int status = Native.cairn_read_all(h, afterPosition, maxCount, &OnEvent, GCHandle.ToIntPtr(ctx), &err);
                sink.Rethrow();
                Check(status, e);
            }
            finally
            {
                ctx.Free();
            }
            return 0;
        });
        return sink.Events;
    }

    public Task<ulong> HeadRevisionAsync(string stream) => Run(() => HeadRevision(stream));

    public ulong HeadRevision(string stream)
    {
        var name = Utf8.GetBytes(stream);
        return Call(h =>
        {
            fixed (byte* n = name)
            {
                byte* e = stackalloc byte[ErrorCapacity];
                var err = Err(e);
                ulong head;
                Check(Native.cairn_head_revision(h, View(n, name.Length), &head, &err), e);
                return head;
            }
        });
    }

    public Task<ulong> HeadPositionAsync() => Run(HeadPosition);

    public ulong HeadPosition() => Call(h =>
    {
        byte* e = stackalloc byte[ErrorCapacity];
        var err = Err(e);
        ulong head;
        Check(Native.cairn_head_position(h, &head, &err), e);
        return head;
    });

    public Task DeleteToAsync(string stream, ulong revision) => Run(() =>
    {
        var name = Utf8.GetBytes(stream);
        return Call(h =>
        {
            fixed (byte* n = name)
            {
                byte* e = stackalloc byte[ErrorCapacity];
                var err = Err(e);
                Check(Native.cairn_delete_to(h, View(n, name.Length), revision, &err), e);
                return 0;
            }
        });
    });

    public Task<IReadOnlyList<StreamInfo>> ListStreamsAsync(ulong afterOrdinal, ulong maxCount) => Run(() =>
    {
        var sink = new List<StreamInfo>();
        Call(h =>
        {
            var ctx = GCHandle.Alloc(sink);
            try
            {
                byte* e = stackalloc byte[ErrorCapacity];
                var err = Err(e);
                Check(Native.cairn_list_streams(h, afterOrdinal, maxCount, &OnStream, GCHandle.ToIntPtr(ctx), &err),
                    e);
            }
            finally
            {
                ctx.Free();
            }
            return 0;
        });
        return (IReadOnlyList<StreamInfo>)sink;
    });

    public Task SaveSnapshotAsync(string stream, ulong revision, long timestampUs, ReadOnlyMemory<byte> data) =>
        Run(() =>
        {
            var name = Utf8.GetBytes(stream);
            var bytes = data.ToArray();
            return Call(h =>
            {
                fixed (byte* n = name)
                fixed (byte* d = bytes)
                {
                    byte* e = stackalloc byte[ErrorCapacity];
                    var err = Err(e);
                    Check(Native.cairn_snapshot_save(h, View(n, name.Length), revision, timestampUs,
                        View(d, bytes.Length), &err), e);
                    return 0;
                }
            });
        });

    public Task<SnapshotRecord?> LoadSnapshotAsync(string stream, SnapshotCriteria criteria) => Run(() =>
    {
        var name = Utf8.GetBytes(stream);
        var box = new StrongBox<SnapshotRecord?>();
        Call(h =>
        {
            var ctx = GCHandle.Alloc(box);
            try
            {
                fixed (byte* n = name)
                {
                    byte* e = stackalloc byte[ErrorCapacity];
                    var err = Err(e);
                    var c = Criteria(criteria);
                    int found;
                    Check(Native.cairn_snapshot_load(h, View(n, name.Length), &c, &OnSnapshot, GCHandle.ToIntPtr(ctx),
                        &found, &err), e);
                }
            }
            finally
            {
                ctx.Free();
            }
            return 0;
        });
        return box.Value;
    });

    public Task DeleteSnapshotAsync(string stream, ulong revision) => Run(() =>
    {
        var name = Utf8.GetBytes(stream);
        return Call(h =>
        {
            fixed (byte* n = name)
            {
                byte* e = stackalloc byte[ErrorCapacity];
                var err = Err(e);
                Check(Native.cairn_snapshot_delete(h, View(n, name.Length), revision, &err), e);
                return 0;
            }
        });
    });

    public Task DeleteSnapshotsAsync(string stream, SnapshotCriteria criteria) => Run(() =>
    {
        var name = Utf8.GetBytes(stream);
        return Call(h =>
        {
            fixed (byte* n = name)
            {
                byte* e = stackalloc byte[ErrorCapacity];
                var err = Err(e);
                var c = Criteria(criteria);
                Check(Native.cairn_snapshot_delete_matching(h, View(n, name.Length), &c, &err), e);
                return 0;
            }
        });
    });

    public Task<ICairnSubscription> SubscribeAsync(SubscriptionKind kind, string name, ulong after) =>
        Run<ICairnSubscription>(() => Subscribe(kind, name, after));

    private EmbeddedSubscription Subscribe(SubscriptionKind kind, string name, ulong after)
    {
        var bytes = Utf8.GetBytes(name);
        IntPtr sub = Call(h =>
        {
            fixed (byte* n = bytes)
            {
                byte* e = stackalloc byte[ErrorCapacity];
                var err = Err(e);
                IntPtr s;
                Check(Native.cairn_subscribe(h, (int)kind, View(n, bytes.Length), after, &s, &err), e);
                return s;
            }
        });
        var subscription = new EmbeddedSubscription(this, sub, $"{kind} '{name}' after {after}");
        lock (_subscriptions) _subscriptions.Add(subscription);
        return subscription;
    }

    internal void Forget(EmbeddedSubscription subscription)
    {
        lock (_subscriptions) _subscriptions.Remove(subscription);
    }

    // ---- helpers ---------------------------------------------------------

    private static CairnBytes PutString(byte[] buffer, byte* start, ref int offset, string s)
    {
        int n = Utf8.GetBytes(s, 0, s.Length, buffer, offset);
        var view = new CairnBytes { Data = start + offset, Size = (nuint)n };
        offset += n;
        return view;
    }

    private static CairnBytes PutBytes(byte[] buffer, byte* start, ref int offset, ReadOnlyMemory<byte> m)
    {
        m.Span.CopyTo(buffer.AsSpan(offset));
        var view = new CairnBytes { Data = start + offset, Size = (nuint)m.Length };
        offset += m.Length;
        return view;
    }

    private T Call<T>(Func<IntPtr, T> body)
    {
        _closing.EnterReadLock();
        try
        {
            if (_handle == IntPtr.Zero)
                throw new CairnException(CairnStatus.Closed, "the embedded Cairn store is closed");
            try {
              return body(_handle);
            } catch (CairnNotLeaderException ex)
                when (ex.Leader == null && Leader(_handle) is {} leader) {
              throw new CairnNotLeaderException(ex.StoreMessage, leader);
            }
        }
        finally
        {
            _closing.ExitReadLock();
        }
    }

    /// <summary>The leader this node knows (cairn_store_leader, C API 1.2);
    /// null with an older library or when the call fails.</summary>
    private static LeaderHint? Leader(IntPtr handle) {
      if ((Native.cairn_c_abi_version() & 0xffff) < Native.AbiMinorLeader)
        return null;
      CairnLeaderInfo info = new() { Size = (uint)sizeof(CairnLeaderInfo) };
      byte* e = stackalloc byte[ErrorCapacity];
      var err = Err(e);
      if (Native.cairn_store_leader(handle, &info, &err) != 0)
        return null;
      return new LeaderHint(info.Known != 0, Marshal.PtrToStringUTF8((IntPtr)info.Node) ?? "",
                            Marshal.PtrToStringUTF8((IntPtr)info.Address) ?? "", info.Epoch);
    }

    /// <summary>The leader this node knows, as <see cref="CairnNotLeaderException.Leader"/>
    /// reports it; null with a libcairn-c older than C API 1.2.</summary>
    public LeaderHint? Leader() => Call(h => Leader(h));

    private static Task<T> Run<T>(Func<T> body)
    {
        try
        {
            return Task.FromResult(body());
        }
        catch (Exception ex)
        {
            return Task.FromException<T>(ex);
        }
    }

    private static Task Run(Action body)
    {
        try
        {
            body();
            return Task.CompletedTask;
        }
        catch (Exception ex)
        {
            return Task.FromException(ex);
        }
    }

    internal static CairnError Err(byte* buffer)
    {
        buffer[0] = 0;
        return new CairnError { Message = buffer, Capacity = ErrorCapacity };
    }

    internal static void Check(int status, byte* message)
    {
        if (status == 0) return;
        string text = Marshal.PtrToStringUTF8((IntPtr)message) ?? "";
        if (text.Length == 0)
          text = ((CairnStatus)status).ToString();
        // The call hands over the code and message only; the store's
        // methods add the structured hint (see Call) where the library has
        // cairn_store_leader.
        if (status == (int)CairnStatus.NotLeader)
          throw new CairnNotLeaderException(text, null);
        throw new CairnException((CairnStatus)status, text);
    }

    private static CairnBytes View(byte* data, int length) => new() { Data = data, Size = (nuint)length };

    private static CairnSnapshotCriteria Criteria(SnapshotCriteria c) => new()
    {
        Size = (uint)sizeof(CairnSnapshotCriteria),
        MinRevision = c.MinRevision,
        MaxRevision = c.MaxRevision,
        MinTimestampUs = c.MinTimestampUs,
        MaxTimestampUs = c.MaxTimestampUs,
    };

    private static byte[] Utf8Z(string s)
    {
        var bytes = new byte[Utf8.GetByteCount(s) + 1];
        Utf8.GetBytes(s, 0, s.Length, bytes, 0);
        return bytes;
    }

    private static byte* Pin(byte[] bytes, List<GCHandle> arena)
    {
        var h = GCHandle.Alloc(bytes, GCHandleType.Pinned);
        arena.Add(h);
        return (byte*)h.AddrOfPinnedObject();
    }

    internal static string Text(CairnBytes b) =>
        b.Size == 0 ? "" : Utf8.GetString(b.Data, checked((int)b.Size));

    internal static byte[] Bytes(CairnBytes b) =>
        b.Size == 0 ? Array.Empty<byte>() : new ReadOnlySpan<byte>(b.Data, checked((int)b.Size)).ToArray();

    /// <summary>Collects events in a callback; an exception is kept and
    /// rethrown on the calling side, never thrown across the C frames. The
    /// stream name, type and writer of consecutive events are usually the
    /// same, so each is decoded once and reused while its bytes repeat.</summary>
    internal sealed class EventSink
    {
        public readonly List<RecordedEvent> Events = new();
        public Exception? Failure;
        private RepeatedText _stream, _type, _writer;

        public void Rethrow()
        {
            if (Failure != null) throw Failure;
        }

        public RecordedEvent Convert(CairnEvent* ev)
        {
            string[] tags = ev->TagCount == 0 ? Array.Empty<string>() : new string[ev->TagCount];
            for (int i = 0; i < tags.Length; i++) tags[i] = Text(ev->Tags[i]);
            return new RecordedEvent(_stream.Get(ev->Stream), ev->Revision, ev->Position, _type.Get(ev->Type),
                ev->TimestampUs, _writer.Get(ev->Writer), Bytes(ev->Metadata), Bytes(ev->Data), tags);
        }
    }

    /// <summary>The last text decoded from a field, kept with its bytes.</summary>
    private struct RepeatedText
    {
        private byte[]? _bytes;
        private string _text;

        public string Get(CairnBytes b)
        {
            var span = b.Size == 0 ? ReadOnlySpan<byte>.Empty : new ReadOnlySpan<byte>(b.Data, checked((int)b.Size));
            if (_bytes != null && span.SequenceEqual(_bytes)) return _text;
            _bytes = span.ToArray();
            _text = span.Length == 0 ? "" : Utf8.GetString(span);
            return _text;
        }
    }

    [UnmanagedCallersOnly]
    internal static int OnEvent(IntPtr context, CairnEvent* ev)
    {
        var sink = (EventSink)GCHandle.FromIntPtr(context).Target!;
        try
        {
            sink.Events.Add(sink.Convert(ev));
            return 0;
        }
        catch (Exception ex)
        {
            sink.Failure = ex;
            return 1;
        }
    }

    [UnmanagedCallersOnly]
    private static int OnStream(IntPtr context, CairnStreamInfo* info)
    {
        var sink = (List<StreamInfo>)GCHandle.FromIntPtr(context).Target!;
        try
        {
            sink.Add(new StreamInfo(Text(info->Name), info->Ordinal, info->HeadRevision, info->DeletedTo));
            return 0;
        }
        catch
        {
            return 1;
        }
    }

    [UnmanagedCallersOnly]
    private static int OnSnapshot(IntPtr context, CairnSnapshot* s)
    {
        var box = (StrongBox<SnapshotRecord?>)GCHandle.FromIntPtr(context).Target!;
        try
        {
            box.Value = new SnapshotRecord(Text(s->Stream), s->Revision, s->TimestampUs, Bytes(s->Data));
        }
        catch
        {
            box.Value = null;
        }
        return 0;
    }
}

/// <summary>Runs the native cursor on its own thread: cairn_subscription_next
/// blocks until the store commits something (or a 1 s slice ends, to notice
/// disposal), and batches go to a small bounded channel, so a slow
/// consumer holds the cursor back instead of buffering without end.</summary>
internal sealed class EmbeddedSubscription : ICairnSubscription
{
    private const int BatchSize = 512;
    private readonly EmbeddedStore _store;
    private readonly IntPtr _cursor;
    private readonly Channel<IReadOnlyList<RecordedEvent>> _batches =
        Channel.CreateBounded<IReadOnlyList<RecordedEvent>>(new BoundedChannelOptions(2)
            { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private IReadOnlyList<RecordedEvent>? _rest;
    private int _disposed;

    public EmbeddedSubscription(EmbeddedStore store, IntPtr cursor, string what)
    {
        _store = store;
        _cursor = cursor;
        _thread = new Thread(Pump) { IsBackground = true, Name = $"cairn subscription {what}" };
        _thread.Start();
    }

    private unsafe void Pump()
    {
        try
        {
            byte* e = stackalloc byte[EmbeddedStore.ErrorCapacity];
            while (!_stop.IsCancellationRequested)
            {
                var sink = new EmbeddedStore.EventSink();
                var ctx = GCHandle.Alloc(sink);
                try
                {
                    var err = EmbeddedStore.Err(e);
                    nuint delivered;
                    int status = Native.cairn_subscription_next(_cursor, BatchSize, 1000, &EmbeddedStore.OnEvent,
                        GCHandle.ToIntPtr(ctx), &delivered, &err);
                    sink.Rethrow();
                    EmbeddedStore.Check(status, e);
                }
                finally
                {
                    ctx.Free();
                }
                if (sink.Events.Count > 0)
                    _batches.Writer.WriteAsync(sink.Events, _stop.Token).AsTask().GetAwaiter().GetResult();
            }
            _batches.Writer.TryComplete();
        }
        catch (OperationCanceledException)
        {
            _batches.Writer.TryComplete();
        }
        catch (Exception ex)
        {
            _batches.Writer.TryComplete(ex);
        }
    }

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
            catch (ChannelClosedException ex) when (ex.InnerException != null)
            {
                throw ex.InnerException;
            }
        }
        if (batch.Count <= maxCount) return batch;
        _rest = batch.Skip(maxCount).ToList();
        return batch.Take(maxCount).ToList();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        Native.cairn_subscription_cancel(_cursor);
        _thread.Join();
        Native.cairn_subscription_close(_cursor);
        _store.Forget(this);
        _stop.Dispose();
    }
}
