using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Akka.Persistence.Journal;

namespace OrderSystem;

// ---- the order's events (what is stored) -------------------------------------

public sealed record OrderPlaced(string OrderId, string Customer, decimal Amount);
public sealed record OrderPaid(string OrderId, decimal Amount);
public sealed record OrderShipped(string OrderId, string Carrier);

// ---- commands and replies ------------------------------------------------------

public sealed record PlaceOrder(string Customer, decimal Amount);
public sealed record PayOrder(decimal Amount);
public sealed record ShipOrder(string Carrier);
public sealed record GetOrder;
public sealed record Reply(bool Ok, string Text);

public enum OrderStatus
{
    None,
    Placed,
    Paid,
    Shipped,
}

public sealed record OrderState(string OrderId, OrderStatus Status, string Customer, decimal Amount, decimal Paid)
{
    public OrderState Apply(object evt) => evt switch
    {
        OrderPlaced p => this with { Status = OrderStatus.Placed, Customer = p.Customer, Amount = p.Amount },
        OrderPaid p => this with { Status = OrderStatus.Paid, Paid = Paid + p.Amount },
        OrderShipped => this with { Status = OrderStatus.Shipped },
        _ => this,
    };

    public override string ToString() =>
        Status == OrderStatus.None ? $"{OrderId}: no such order" : $"{OrderId}: {Status}, {Customer}, {Amount:0.00} (paid {Paid:0.00})";
}

/// <summary>
/// One order, persisted as a stream named after it. Every event is tagged
/// "order" for the projection; a snapshot is taken every 2 events, so a
/// restart replays at most one event on top of the snapshot.
/// </summary>
public sealed class OrderActor : ReceivePersistentActor
{
    public const string Tag = "order";
    private const int SnapshotEvery = 2;
    private OrderState _state;

    public OrderActor(string orderId)
    {
        PersistenceId = orderId;
        _state = new OrderState(orderId, OrderStatus.None, "", 0, 0);
        Recover<SnapshotOffer>(offer => _state = (OrderState)offer.Snapshot);
        Recover<OrderPlaced>(e => _state = _state.Apply(e));
        Recover<OrderPaid>(e => _state = _state.Apply(e));
        Recover<OrderShipped>(e => _state = _state.Apply(e));

        Command<PlaceOrder>(cmd =>
        {
            if (_state.Status != OrderStatus.None) Sender.Tell(new Reply(false, $"{orderId} is already placed"));
            else if (cmd.Amount <= 0) Sender.Tell(new Reply(false, $"amount {cmd.Amount} must be positive"));
            else Store(new OrderPlaced(orderId, cmd.Customer, cmd.Amount));
        });
        Command<PayOrder>(cmd =>
        {
            if (_state.Status != OrderStatus.Placed)
                Sender.Tell(new Reply(false, $"{orderId} is {_state.Status}; only a placed order can be paid"));
            else if (cmd.Amount != _state.Amount)
                Sender.Tell(new Reply(false, $"{orderId} costs {_state.Amount:0.00}, not {cmd.Amount:0.00}"));
            else Store(new OrderPaid(orderId, cmd.Amount));
        });
        Command<ShipOrder>(cmd =>
        {
            if (_state.Status != OrderStatus.Paid)
                Sender.Tell(new Reply(false, $"{orderId} is {_state.Status}; only a paid order ships"));
            else Store(new OrderShipped(orderId, cmd.Carrier));
        });
        Command<GetOrder>(_ => Sender.Tell(_state));
        Command<SaveSnapshotSuccess>(_ => { });
        Command<SaveSnapshotFailure>(f => Context.GetLogger().Warning(f.Cause, "snapshot of {0} failed", orderId));
    }

    public override string PersistenceId { get; }

    private void Store(object evt)
    {
        Persist(new Tagged(evt, new[] { Tag }), tagged =>
        {
            _state = _state.Apply(tagged.Payload);
            if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(_state);
            Sender.Tell(new Reply(true, _state.ToString()));
        });
    }

    public static Props Props(string orderId) => Akka.Actor.Props.Create(() => new OrderActor(orderId));
}

/// <summary>Routes commands to one child actor per order id.</summary>
public sealed class OrderDesk : ReceiveActor
{
    public sealed record ToOrder(string OrderId, object Command);

    public OrderDesk()
    {
        Receive<ToOrder>(m =>
        {
            var child = Context.Child(m.OrderId);
            if (child.IsNobody()) child = Context.ActorOf(OrderActor.Props(m.OrderId), m.OrderId);
            child.Forward(m.Command);
        });
    }
}
