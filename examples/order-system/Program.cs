// The order system: place, pay and ship orders, persisted into an embedded
// Cairn store; a projection follows EventsByTag("order").
//
//   order-system [--data DIR] place ID CUSTOMER AMOUNT
//   order-system [--data DIR] pay ID AMOUNT
//   order-system [--data DIR] ship ID CARRIER
//   order-system [--data DIR] show ID...
//   order-system [--data DIR] demo          (places, pays, ships three orders)
//
// Each run is a new process: the orders and the projection recover from the
// store (snapshots plus the events after them) before the command runs.
using System.Globalization;
using Akka.Actor;
using Akka.Hosting;
using Akka.Persistence.Cairn.Hosting;
using Akka.Persistence.Query;
using Akka.Streams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrderSystem;

var arguments = args.ToList();
string data = "./order-data";
int at = arguments.IndexOf("--data");
if (at >= 0)
{
    if (at + 1 >= arguments.Count) return Usage("--data needs a folder");
    data = arguments[at + 1];
    arguments.RemoveRange(at, 2);
}
if (arguments.Count == 0) return Usage("no command");

var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders();
builder.Services.AddAkka("orders", akka =>
{
    akka.ConfigureLoggers(l => l.LogLevel = Akka.Event.LogLevel.WarningLevel);
    // The one line: persist every actor into Cairn, in this process.
    akka.WithCairnPersistence(cairn =>
    {
        cairn.Path = data;
        cairn.StoragePlugin = "mmaplog";
    });
    akka.WithActors((system, registry) =>
    {
        registry.Register<OrderDesk>(system.ActorOf(Props.Create<OrderDesk>(), "orders"));
        registry.Register<OrderProjection>(system.ActorOf(Props.Create<OrderProjection>(), "projection"));
    });
});
using var host = builder.Build();
await host.StartAsync();
var registry = host.Services.GetRequiredService<ActorRegistry>();
var desk = registry.Get<OrderDesk>();
var projection = registry.Get<OrderProjection>();
var timeout = TimeSpan.FromSeconds(30);

async Task<bool> Send(string id, object command)
{
    var reply = await desk.Ask<Reply>(new OrderDesk.ToOrder(id, command), timeout);
    Console.WriteLine(reply.Ok ? $"ok: {reply.Text}" : $"refused: {reply.Text}");
    return reply.Ok;
}

static decimal Money(string s) => decimal.Parse(s, CultureInfo.InvariantCulture);

bool ok = true;
switch (arguments[0])
{
    case "place" when arguments.Count == 4:
        ok = await Send(arguments[1], new PlaceOrder(arguments[2], Money(arguments[3])));
        break;
    case "pay" when arguments.Count == 3:
        ok = await Send(arguments[1], new PayOrder(Money(arguments[2])));
        break;
    case "ship" when arguments.Count == 3:
        ok = await Send(arguments[1], new ShipOrder(arguments[2]));
        break;
    case "show" when arguments.Count >= 2:
        foreach (var id in arguments.Skip(1))
            Console.WriteLine(await desk.Ask<OrderState>(new OrderDesk.ToOrder(id, new GetOrder()), timeout));
        break;
    case "demo":
        ok &= await Send("order-1", new PlaceOrder("ada", 120m));
        ok &= await Send("order-2", new PlaceOrder("brian", 35.5m));
        ok &= await Send("order-3", new PlaceOrder("chen", 9.99m));
        ok &= await Send("order-1", new PayOrder(120m));
        ok &= await Send("order-2", new PayOrder(35.5m));
        ok &= await Send("order-1", new ShipOrder("post"));
        break;
    default:
        await host.StopAsync();
        return Usage($"unknown command or wrong arguments: {string.Join(' ', arguments)}");
}

// Let the projection catch up with everything stored, then report.
var queries = PersistenceQuery.Get(host.Services.GetRequiredService<ActorSystem>())
    .ReadJournalFor<Akka.Persistence.Cairn.Query.CairnReadJournal>(Akka.Persistence.Cairn.Query.CairnReadJournal.Identifier);
long head = 0;
await queries.CurrentEventsByTag(OrderActor.Tag, NoOffset.Instance)
    .RunForeach(e => head = ((Sequence)e.Offset).Value, host.Services.GetRequiredService<ActorSystem>().Materializer());
var summary = await projection.Ask<OrderProjection.Summary>(new OrderProjection.WaitFor(head), timeout);
Console.WriteLine($"projection: up to #{summary.Offset}: {summary.Placed} placed, {summary.Paid} paid, " +
                  $"{summary.Shipped} shipped, revenue {summary.Revenue:0.00}");
await host.StopAsync();
return ok ? 0 : 1;

static int Usage(string why)
{
    Console.Error.WriteLine($"order-system: {why}");
    Console.Error.WriteLine("usage: order-system [--data DIR] place ID CUSTOMER AMOUNT | pay ID AMOUNT | ship ID CARRIER | show ID... | demo");
    return 2;
}
