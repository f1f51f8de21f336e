using Akka;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Cairn.Query;
using Akka.Persistence.Query;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace OrderSystem;

/// <summary>
/// A read model of all orders, fed by EventsByTag("order"). It remembers the
/// offset it has processed (itself persisted, as a tiny event-sourced actor),
/// so after a restart it resumes exactly after the last event it saw: each
/// event is projected once.
/// </summary>
public sealed class OrderProjection : ReceivePersistentActor
{
    public sealed record Processed(long Offset, string OrderId, string What);
    public sealed record WaitFor(long Offset);
    public sealed record Summary(long Offset, int Placed, int Paid, int Shipped, decimal Revenue);

    private long _offset;
    private int _placed, _paid, _shipped;
    private decimal _revenue;
    private readonly List<(long Offset, IActorRef Waiter)> _waiters = new();

    public OrderProjection()
    {
        Recover<Processed>(Apply);
        Recover<RecoveryCompleted>(_ => Start());
        Command<EventEnvelope>(env =>
        {
            var (orderId, what) = env.Event switch
            {
                OrderPlaced p => (p.OrderId, $"placed by {p.Customer} for {p.Amount:0.00}"),
                OrderPaid p => (p.OrderId, $"paid {p.Amount:0.00}"),
                OrderShipped s => (s.OrderId, $"shipped with {s.Carrier}"),
                _ => (env.PersistenceId, env.Event.GetType().Name),
            };
            long offset = ((Sequence)env.Offset).Value;
            Persist(new Processed(offset, orderId, what), p =>
            {
                Apply(p);
                Console.WriteLine($"  [projection] #{p.Offset} {p.OrderId} {p.What}");
                ReleaseWaiters();
            });
        });
        Command<WaitFor>(w =>
        {
            _waiters.Add((w.Offset, Sender));
            ReleaseWaiters();
        });
    }

    public override string PersistenceId => "order-projection";

    private void Apply(Processed p)
    {
        _offset = p.Offset;
        if (p.What.StartsWith("placed", StringComparison.Ordinal)) _placed++;
        else if (p.What.StartsWith("paid", StringComparison.Ordinal))
        {
            _paid++;
            _revenue += decimal.Parse(p.What.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        else if (p.What.StartsWith("shipped", StringComparison.Ordinal)) _shipped++;
    }

    private void ReleaseWaiters()
    {
        foreach (var w in _waiters.Where(w => w.Offset <= _offset).ToList())
        {
            w.Waiter.Tell(new Summary(_offset, _placed, _paid, _shipped, _revenue));
            _waiters.Remove(w);
        }
    }

    private void Start()
    {
        var queries = PersistenceQuery.Get(Context.System)
            .ReadJournalFor<CairnReadJournal>(CairnReadJournal.Identifier);
        // Live: the store pushes each new commit; the projection resumes
        // after the offset it saved (offsets are exclusive).
        queries.EventsByTag(OrderActor.Tag, new Sequence(_offset))
            .RunWith(Sink.ActorRef<EventEnvelope>(Self, new Status.Success(NotUsed.Instance), ex => new Status.Failure(ex)),
                Context.System.Materializer());
    }
}
