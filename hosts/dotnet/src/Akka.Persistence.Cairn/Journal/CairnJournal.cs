using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Cairn.Remote;
using Akka.Persistence.Journal;

namespace Akka.Persistence.Cairn.Journal;

/// <summary>
/// Akka.Persistence journal on a Cairn store. A persistenceId is a stream and
/// a sequence number is a revision. Each AtomicWrite is one append with the
/// expected revision LowestSequenceNr - 1, so it is all-or-nothing and a
/// concurrent writer of the same id cannot interleave. Writes go through
/// <c>write-lanes</c> ordered lanes chosen by persistenceId: the writes of one
/// id are applied in the order Akka issued them, different ids in parallel.
/// Embedded, a lane is a thread that waits for each append (the store call
/// blocks while it makes the write durable). Remote, a lane has no thread and
/// no thread waits: the submitting thread sends the append when the lane is
/// free, and the answer sends what queued meanwhile (merged), so no thread
/// hand-off sits between a write and the wire or between the answer and the
/// journal.
/// </summary>
public sealed class CairnJournal : AsyncWriteJournal
{
    // Merged appends stay well under cairnd's default max-batch (1000); one
    // AtomicWrite larger than the server's limit fails, as it cannot be split
    // without losing its atomicity. A batch is cut into jobs of this size so
    // a lane can append the first while the rest are still being serialized.
    private const int MaxMergedEvents = 500;

    // What a lane may merge into one append from jobs queued behind each
    // other (group commit: one fsync for all of them). Remote: cairnd's
    // max-batch bounds it as above. Embedded: no server limit, only
    // mmaplog's 64 MiB per batch, kept far away.
    private const int MaxLaneEventsRemote = MaxMergedEvents;
    private const int MaxLaneEventsEmbedded = 8192;
    private const long MaxLaneBytes = 16L << 20;

    private readonly CairnSettings _settings;
    private readonly CairnStores.Lease _lease;
    private readonly ICairnStore _store;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly ILane[] _lanes;

    public CairnJournal(Config config)
    {
        _settings = CairnSettings.Create(config);
        _lease = CairnStores.Acquire(_settings);
        _store = _lease.Store;
        _serialization = Context.System.Serialization;
        int laneEvents = _settings.Mode == CairnMode.Embedded ? MaxLaneEventsEmbedded : MaxLaneEventsRemote;
        _lanes = Enumerable.Range(0, _settings.WriteLanes)
            .Select(i => _settings.Mode == CairnMode.Embedded
                ? (ILane)new Lane(_store, i, laneEvents)
                : new RemoteLane(_store, laneEvents))
            .ToArray();
    }

    protected override void PostStop()
    {
        foreach (var lane in _lanes) lane.Complete();
        try
        {
            Task.WaitAll(_lanes.Select(l => l.Completion).ToArray(), TimeSpan.FromSeconds(30));
        }
        finally
        {
            _lease.Dispose();
            base.PostStop();
        }
    }

    protected override Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages,
        CancellationToken cancellationToken)
    {
        var writes = messages.ToList();
        var results = new Exception?[writes.Count];
        var pending = new List<Task>();
        // Consecutive writes of one id become one append (still all-or-nothing
        // each: a store failure fails the whole task, which fails them all).
        Job? job = null;
        for (int i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            List<EventData> events;
            try
            {
                events = Serialize(write);
            }
            catch (Exception ex)
            {
                // Rejected: this write only; the others go on.
                results[i] = ex;
                continue;
            }
            if (job != null && job.Stream == write.PersistenceId && job.NextRevision == write.LowestSequenceNr &&
                job.Events.Count + events.Count <= MaxMergedEvents)
            {
                job.Events.AddRange(events);
                job.NextRevision = write.HighestSequenceNr + 1;
                continue;
            }
            if (job != null) pending.Add(Enqueue(job));
            job = new Job(write.PersistenceId, (ulong)(write.LowestSequenceNr - 1), events,
                _settings.Mode == CairnMode.Embedded)
            {
                NextRevision = write.HighestSequenceNr + 1,
            };
        }
        if (job != null) pending.Add(Enqueue(job));
        return Task.WhenAll(pending).ContinueWith(t =>
        {
            if (t.IsFaulted) throw t.Exception!.GetBaseException();
            return (IImmutableList<Exception?>)results.ToImmutableList();
        }, TaskContinuationOptions.ExecuteSynchronously);
    }

    private List<EventData> Serialize(AtomicWrite write)
    {
        var payloads = (IImmutableList<IPersistentRepresentation>)write.Payload;
        var events = new List<EventData>(payloads.Count);
        foreach (var p in payloads)
        {
            object payload = p.Payload;
            IReadOnlyList<string> tags = Array.Empty<string>();
            if (payload is Tagged tagged)
            {
                payload = tagged.Payload;
                tags = tagged.Tags.ToArray();
            }
            var s = PayloadEnvelope.Serialize(_serialization, payload);
            long ticks = p.Timestamp != 0 ? p.Timestamp : DateTime.UtcNow.Ticks;
            var facts = new PayloadEnvelope.Facts(s.SerializerId, s.SerializerManifest, p.Manifest ?? "", ticks);
            events.Add(new EventData(s.TypeName, s.Data, PayloadEnvelope.EncodeFacts(facts), p.WriterGuid ?? "",
                tags, PayloadEnvelope.TicksToUnixMicros(ticks)));
        }
        return events;
    }

    private Task Enqueue(Job job)
    {
        var lane = _lanes[(int)((uint)StringComparer.Ordinal.GetHashCode(job.Stream) % (uint)_lanes.Length)];
        return lane.Submit(job);
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr,
        long toSequenceNr, long max, Action<IPersistentRepresentation> recoveryCallback)
    {
        return Task.Run(async () =>
        {
            if (max <= 0 || toSequenceNr < fromSequenceNr || toSequenceNr < 1) return;
            ulong from = (ulong)Math.Max(1, fromSequenceNr);
            ulong to = (ulong)toSequenceNr;
            ulong left = (ulong)max;
            while (left > 0 && from <= to)
            {
                ulong page = Math.Min(left, (ulong)_settings.ReplayBatchSize);
                var events = await _store.ReadStreamAsync(persistenceId, from, to, page).ConfigureAwait(false);
                foreach (var ev in events) recoveryCallback(ToPersistent(ev));
                if ((ulong)events.Count < page) return;
                left -= (ulong)events.Count;
                from = events[^1].Revision + 1;
            }
        });
    }

    private Persistent ToPersistent(RecordedEvent ev)
    {
        var facts = PayloadEnvelope.DecodeEventFacts(ev.Metadata, ev.Stream, ev.Revision);
        object payload = PayloadEnvelope.Deserialize(_serialization, ev.Data, facts);
        return new Persistent(payload, (long)ev.Revision, ev.Stream, facts.PersistentManifest, false,
            ActorRefs.NoSender, ev.Writer, facts.TimestampTicks);
    }

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr,
        CancellationToken cancellationToken)
    {
        // The store keeps a stream's head revision after deletes, so this
        // never goes down, also after DeleteMessagesTo(pid, long.MaxValue).
        return (long)await _store.HeadRevisionAsync(persistenceId).ConfigureAwait(false);
    }

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr,
        CancellationToken cancellationToken)
    {
        if (toSequenceNr <= 0) return Task.CompletedTask;
        return _store.DeleteToAsync(persistenceId, (ulong)toSequenceNr);
    }

    private sealed class Job
    {
        /// <param name="offLaneThread">complete on the thread pool, not on the
        /// completing thread (an embedded lane's own thread).</param>
        public Job(string stream, ulong head, List<EventData> events, bool offLaneThread)
        {
            Stream = stream;
            Head = head;
            Events = events;
            Done = new TaskCompletionSource(offLaneThread
                ? TaskCreationOptions.RunContinuationsAsynchronously
                : TaskCreationOptions.None);
        }

        public string Stream { get; }
        public ulong Head { get; }
        public List<EventData> Events { get; }
        public long NextRevision { get; set; }
        public TaskCompletionSource Done { get; }
    }

    private interface ILane
    {
        /// <summary>Queues <paramref name="job"/> behind the lane's earlier jobs;
        /// completes when its append has.</summary>
        Task Submit(Job job);

        /// <summary>Runs what is queued, then stops.</summary>
        void Complete();

        Task Completion { get; }
    }

    /// <summary>Takes from <paramref name="jobs"/> the first job and the jobs
    /// of its stream queued right behind it, each continuing where the one
    /// before ends, within the limits: they go as one append.</summary>
    private static List<EventData> TakeMerged(Queue<Job> jobs, List<Job> merged, int maxEvents)
    {
        var job = jobs.Dequeue();
        merged.Add(job);
        var events = job.Events;
        ulong next = job.Head + (ulong)job.Events.Count;
        long bytes = Bytes(job.Events);
        while (jobs.TryPeek(out var more) && more.Stream == job.Stream && more.Head == next &&
               events.Count + more.Events.Count <= maxEvents &&
               bytes + Bytes(more.Events) <= MaxLaneBytes)
        {
            jobs.Dequeue();
            if (merged.Count == 1) events = new List<EventData>(job.Events);
            events.AddRange(more.Events);
            next += (ulong)more.Events.Count;
            bytes += Bytes(more.Events);
            merged.Add(more);
        }
        return events;
    }

    private static long Bytes(List<EventData> events)
    {
        long total = 0;
        foreach (var e in events) total += e.Data.Length + e.Metadata.Length + 64;
        return total;
    }

    private static void Finish(List<Job> merged, Task append)
    {
        if (append.IsFaulted)
        {
            var error = append.Exception!.GetBaseException();
            foreach (var m in merged) m.Done.TrySetException(error);
        }
        else if (append.IsCanceled)
        {
            foreach (var m in merged) m.Done.TrySetCanceled();
        }
        else
        {
            foreach (var m in merged) m.Done.TrySetResult();
        }
    }

    /// <summary>A remote lane: no thread of its own and no waiting. A job is
    /// sent from the submitting thread when fewer than
    /// <see cref="RemoteLaneInFlight"/> appends of this lane are on the wire;
    /// otherwise it queues, and the answer that frees a slot sends what queued
    /// (merged as on an embedded lane). Appends are handed to the client under
    /// the lane's lock, so they go out in lane order (and cairnd applies one
    /// stream's requests from one connection in the order sent, so a larger
    /// RemoteLaneInFlight would keep order too: on 2 cores 2 and 4 made
    /// smaller merged appends and were not faster, so one it is).</summary>
    private sealed class RemoteLane : ILane
    {
        private const int RemoteLaneInFlight = 1;
        private readonly ICairnStore _store;
        private readonly int _maxEvents;
        private readonly object _gate = new();
        private readonly Queue<Job> _jobs = new();
        private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _inFlight;
        private bool _completing;

        public RemoteLane(ICairnStore store, int maxEvents)
        {
            _store = store;
            _maxEvents = maxEvents;
        }

        public Task Completion => _stopped.Task;

        public Task Submit(Job job)
        {
            (List<Job>, Task)? sent;
            lock (_gate)
            {
                if (_completing)
                {
                    job.Done.SetException(new CairnException(CairnStatus.Closed, "the Cairn journal is stopping"));
                    return job.Done.Task;
                }
                _jobs.Enqueue(job);
                sent = SendLocked();
            }
            if (sent.HasValue) Watch(sent.Value.Item1, sent.Value.Item2);
            return job.Done.Task;
        }

        public void Complete()
        {
            lock (_gate)
            {
                _completing = true;
                if (_inFlight == 0 && _jobs.Count == 0) _stopped.TrySetResult();
            }
        }

        /// <summary>Under the lock: sends the next merged append if a slot is free.</summary>
        private (List<Job>, Task)? SendLocked()
        {
            if (_inFlight >= RemoteLaneInFlight || _jobs.Count == 0) return null;
            var merged = new List<Job>();
            var events = TakeMerged(_jobs, merged, _maxEvents);
            _inFlight++;
            Task append;
            try
            {
                var expected = ExpectedRevision.At(merged[0].Head);
                // The answer finishes the jobs and sends what queued right in
                // the connection's read loop (all short, nothing waits).
                append = _store is ReconnectingRemoteStore remote
                    ? remote.AppendOnReaderAsync(merged[0].Stream, expected, events)
                    : _store.AppendAsync(merged[0].Stream, expected, events);
            }
            catch (Exception ex)
            {
                append = Task.FromException(ex);
            }
            return (merged, append);
        }

        private void Watch(List<Job> merged, Task append) =>
            append.ContinueWith(static (t, state) =>
                {
                    var (lane, jobs) = ((RemoteLane, List<Job>))state!;
                    lane.Answered(jobs, t);
                }, (this, merged), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);

        private void Answered(List<Job> merged, Task append)
        {
            Finish(merged, append);
            (List<Job>, Task)? sent;
            lock (_gate)
            {
                _inFlight--;
                sent = SendLocked();
                if (sent == null && _completing && _inFlight == 0 && _jobs.Count == 0) _stopped.TrySetResult();
            }
            if (sent.HasValue) Watch(sent.Value.Item1, sent.Value.Item2);
        }
    }

    /// <summary>One ordered writer: jobs run one at a time in submission
    /// order on a dedicated thread. An embedded append blocks while the store
    /// makes it durable (fsync, group commit); on pool threads eight such
    /// waits would starve a small machine's thread pool, so lanes own threads.
    /// Jobs of one stream that queued up behind each other while the lane was
    /// busy, each continuing where the one before ends, go as one append: one
    /// durable write instead of one each (they then succeed or fail together,
    /// as the writes merged within one batch already do).</summary>
    private sealed class Lane : ILane
    {
        private readonly ICairnStore _store;
        private readonly int _maxEvents;
        // A plain monitor-guarded queue: an idle lane sleeps in Monitor.Wait.
        // (Blocking on a Channel's WaitToReadAsync task spun before sleeping,
        // on every one of the 32 lanes, each time: a third of the journal's
        // CPU in a profile of one actor's PersistAsync on 2 cores.)
        private readonly object _gate = new();
        private readonly Queue<Job> _jobs = new();
        private bool _completing;
        private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Lane(ICairnStore store, int number, int maxEvents)
        {
            _store = store;
            _maxEvents = maxEvents;
            new Thread(Run) { IsBackground = true, Name = $"cairn journal lane {number}" }.Start();
        }

        public Task Completion => _stopped.Task;

        public Task Submit(Job job)
        {
            lock (_gate)
            {
                if (_completing)
                {
                    job.Done.SetException(new CairnException(CairnStatus.Closed, "the Cairn journal is stopping"));
                    return job.Done.Task;
                }
                _jobs.Enqueue(job);
                if (_jobs.Count == 1) Monitor.Pulse(_gate);
            }
            return job.Done.Task;
        }

        /// <summary>Runs what is queued, then stops the lane's thread.</summary>
        public void Complete()
        {
            lock (_gate)
            {
                _completing = true;
                Monitor.Pulse(_gate);
            }
        }

        private void Run()
        {
            var merged = new List<Job>();
            while (true)
            {
                Job job;
                List<EventData> events;
                merged.Clear();
                lock (_gate)
                {
                    while (_jobs.Count == 0 && !_completing) Monitor.Wait(_gate);
                    if (_jobs.Count == 0) break;
                    events = TakeMerged(_jobs, merged, _maxEvents);
                    job = merged[0];
                }
                try
                {
                    _store.AppendAsync(job.Stream, ExpectedRevision.At(job.Head), events).GetAwaiter().GetResult();
                    foreach (var m in merged) m.Done.SetResult();
                }
                catch (Exception ex)
                {
                    foreach (var m in merged) m.Done.SetException(ex);
                }
            }
            _stopped.SetResult();
        }
    }
}
