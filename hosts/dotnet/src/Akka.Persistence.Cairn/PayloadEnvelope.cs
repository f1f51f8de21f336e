using System.Text;
using Akka.Actor;
using Akka.Serialization;

namespace Akka.Persistence.Cairn;

/// <summary>
/// How Akka's per-event facts ride in a Cairn event's metadata bytes (the
/// payload itself is the event's data): format byte 1, then the serializer
/// id, the serializer's manifest, the persistent representation's manifest
/// (event adapters) and the Akka timestamp in ticks, exactly as given. The
/// event's Cairn type is the serializer manifest (or the CLR type name when
/// the serializer has none), so tools show something readable.
/// </summary>
internal static class PayloadEnvelope
{
    private const byte Format = 1;

    public readonly record struct Serialized(
        byte[] Data, int SerializerId, string SerializerManifest, string TypeName);

    public readonly record struct Facts(
        int SerializerId, string SerializerManifest, string PersistentManifest, long TimestampTicks);

    public static Serialized Serialize(Akka.Serialization.Serialization serialization, object payload)
    {
        var serializer = serialization.FindSerializerFor(payload);
        string manifest = Akka.Serialization.Serialization.ManifestFor(serializer, payload);
        byte[] data = serializer.ToBinary(payload);
        string type = manifest.Length > 0 ? manifest : payload.GetType().Name;
        return new Serialized(data, serializer.Identifier, manifest, type);
    }

    public static object Deserialize(Akka.Serialization.Serialization serialization, byte[] data, Facts facts) =>
        serialization.Deserialize(data, facts.SerializerId, facts.SerializerManifest);

    public static byte[] EncodeFacts(Facts facts)
    {
        using var stream = new MemoryStream(32 + facts.SerializerManifest.Length + facts.PersistentManifest.Length);
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Format);
            w.Write(facts.SerializerId);
            w.Write(facts.SerializerManifest);
            w.Write(facts.PersistentManifest);
            w.Write(facts.TimestampTicks);
        }
        return stream.ToArray();
    }

    public static Facts DecodeFacts(byte[] metadata, string what)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(metadata), Encoding.UTF8);
            byte format = r.ReadByte();
            if (format != Format)
                throw new InvalidDataException($"metadata format {format} is not {Format}");
            return new Facts(r.ReadInt32(), r.ReadString(), r.ReadString(), r.ReadInt64());
        }
        catch (Exception ex) when (ex is EndOfStreamException or InvalidDataException or IOException)
        {
            throw new InvalidDataException(
                $"Cairn: {what} was not written by Akka.Persistence.Cairn (its metadata does not parse: {ex.Message})",
                ex);
        }
    }

    /// <summary>Akka timestamps are DateTime ticks (UTC); the store keeps
    /// microseconds since the Unix epoch.</summary>
    public static long TicksToUnixMicros(long ticks) => (ticks - DateTime.UnixEpoch.Ticks) / 10;

    public static long UnixMicrosToTicks(long micros) => micros * 10 + DateTime.UnixEpoch.Ticks;

    public static long DateTimeToUnixMicros(DateTime time) =>
        time == DateTime.MaxValue ? long.MaxValue
        : time == DateTime.MinValue ? long.MinValue
        : TicksToUnixMicros(time.Ticks);
}
