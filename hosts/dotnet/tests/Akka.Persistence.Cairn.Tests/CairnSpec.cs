using System.Text;
using Akka.Actor;
using Akka.Serialization;
using Xunit.Abstractions;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>A TestKit whose actor system persists into a fresh <see cref="TestStore"/>.</summary>
public abstract class CairnSpec : Akka.TestKit.Xunit2.TestKit
{
    protected CairnSpec(ITestOutputHelper output, string extraHocon = "") : this(TestStore.Create(), output, extraHocon)
    {
    }

    private CairnSpec(TestStore store, ITestOutputHelper output, string extraHocon)
        : base(store.Config(extraHocon), "cairn-spec", output)
    {
        Store = store;
    }

    protected TestStore Store { get; }

    protected IActorRef Journal => Persistence.Instance.Apply(Sys).JournalFor(null);
    protected IActorRef SnapshotStore => Persistence.Instance.Apply(Sys).SnapshotStoreFor(null);

    protected static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    protected override void AfterAll()
    {
        base.AfterAll();
        Store.Dispose();
    }
}

/// <summary>A payload bound to <see cref="TestSerializer"/> in the test config.</summary>
public sealed record CustomSerialized(string Text, bool CameThroughTestSerializer = false);

/// <summary>A serializer with its own id and a string manifest, to prove
/// both are stored and used on the way back.</summary>
public sealed class TestSerializer : SerializerWithStringManifest
{
    public const int Id = 4711;

    public TestSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    public override int Identifier => Id;

    public override byte[] ToBinary(object obj) => Encoding.UTF8.GetBytes(((CustomSerialized)obj).Text);

    public override object FromBinary(byte[] bytes, string manifest) =>
        manifest == "custom-v1"
            ? new CustomSerialized(Encoding.UTF8.GetString(bytes), CameThroughTestSerializer: true)
            : throw new ArgumentException($"unknown manifest {manifest}");

    public override string Manifest(object o) => "custom-v1";
}

/// <summary>An event the default serializer cannot write.</summary>
public sealed class Unserializable
{
    public string Boom => throw new InvalidOperationException("this event cannot be serialized");
}
