using System.Buffers.Binary;
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
    private static readonly UTF8Encoding Utf8 = new(false, false);

    public readonly record struct Serialized(
        byte[] Data, int SerializerId, string SerializerManifest, string TypeName);

    public readonly record struct Facts(
        int SerializerId, string SerializerManifest, string PersistentManifest, long TimestampTicks);

    /// <summary>Serializes <paramref name="payload"/> with its bound serializer
    /// inside <c>Serialization.WithTransport</c>, as Akka's own journals do: a
    /// serializer that writes an IActorRef (or anything else needing the
    /// system's address, with remoting or cluster) reads it from
    /// <c>Serialization.CurrentTransportInformation</c>, which is only set there.</summary>
    public static Serialized Serialize(Akka.Serialization.Serialization serialization, object payload) =>
        Akka.Serialization.Serialization.WithTransport(serialization.System, (serialization, payload),
            static state =>
            {
                var (serialization, payload) = state;
                var serializer = serialization.FindSerializerFor(payload);
                string manifest = Akka.Serialization.Serialization.ManifestFor(serializer, payload);
                byte[] data = serializer.ToBinary(payload);
                string type = manifest.Length > 0 ? manifest : payload.GetType().Name;
                return new Serialized(data, serializer.Identifier, manifest, type);
            });

    /// <summary>The way back, also with the transport information set (a
    /// serializer may resolve actor references against it).</summary>
    public static object Deserialize(Akka.Serialization.Serialization serialization, byte[] data, Facts facts) =>
        Akka.Serialization.Serialization.WithTransport(serialization.System, (serialization, data, facts),
            static state => state.serialization.Deserialize(state.data, state.facts.SerializerId,
                state.facts.SerializerManifest));

    // The layout is BinaryWriter's (little-endian integers, strings as a
    // 7-bit-encoded UTF-8 byte count and the bytes), which the first version
    // wrote; stores hold it, so it never changes. Written and read by hand:
    // a MemoryStream and a BinaryWriter/Reader per event were most of the
    // journal's own per-event cost.

    public static byte[] EncodeFacts(Facts facts)
    {
        int serializerManifest = Utf8.GetByteCount(facts.SerializerManifest);
        int persistentManifest = Utf8.GetByteCount(facts.PersistentManifest);
        var bytes = new byte[1 + 4 + PrefixLength(serializerManifest) + serializerManifest +
                             PrefixLength(persistentManifest) + persistentManifest + 8];
        var span = bytes.AsSpan();
        span[0] = Format;
        BinaryPrimitives.WriteInt32LittleEndian(span.Slice(1), facts.SerializerId);
        int offset = 5;
        offset += WriteString(span.Slice(offset), facts.SerializerManifest, serializerManifest);
        offset += WriteString(span.Slice(offset), facts.PersistentManifest, persistentManifest);
        BinaryPrimitives.WriteInt64LittleEndian(span.Slice(offset), facts.TimestampTicks);
        return bytes;
    }

    /// <summary>Reads what <see cref="EncodeFacts"/> wrote; <paramref name="what"/>
    /// names the record in the error when the bytes do not parse.</summary>
    public static Facts DecodeFacts(ReadOnlySpan<byte> metadata, string what) =>
        TryDecodeFacts(metadata, out var facts, out var problem) ? facts : throw NotOurs(what, problem);

    /// <summary>The per-event form: the event's name is only formatted when
    /// its metadata does not parse.</summary>
    public static Facts DecodeEventFacts(ReadOnlySpan<byte> metadata, string stream, ulong revision) =>
        TryDecodeFacts(metadata, out var facts, out var problem)
            ? facts
            : throw NotOurs($"event {stream}/{revision}", problem);

    private static bool TryDecodeFacts(ReadOnlySpan<byte> metadata, out Facts facts, out string problem)
    {
        facts = default;
        problem = "";
        if (metadata.Length < 1)
        {
            problem = "it is empty";
            return false;
        }
        if (metadata[0] != Format)
        {
            problem = $"metadata format {metadata[0]} is not {Format}";
            return false;
        }
        var rest = metadata.Slice(1);
        if (rest.Length < 4 || !TryReadString(rest.Slice(4), out var serializerManifest, out int used1) ||
            !TryReadString(rest.Slice(4 + used1), out var persistentManifest, out int used2) ||
            rest.Length < 4 + used1 + used2 + 8)
        {
            problem = "it ends early";
            return false;
        }
        facts = new Facts(BinaryPrimitives.ReadInt32LittleEndian(rest), serializerManifest, persistentManifest,
            BinaryPrimitives.ReadInt64LittleEndian(rest.Slice(4 + used1 + used2)));
        return true;
    }

    private static InvalidDataException NotOurs(string what, string problem) =>
        new($"Cairn: {what} was not written by Akka.Persistence.Cairn (its metadata does not parse: {problem})");

    private static int PrefixLength(int length)
    {
        int n = 1;
        for (uint v = (uint)length; v >= 0x80; v >>= 7) n++;
        return n;
    }

    private static int WriteString(Span<byte> into, string s, int byteCount)
    {
        int n = 0;
        uint v = (uint)byteCount;
        for (; v >= 0x80; v >>= 7) into[n++] = (byte)(v | 0x80);
        into[n++] = (byte)v;
        return n + Utf8.GetBytes(s, into.Slice(n));
    }

    private static bool TryReadString(ReadOnlySpan<byte> from, out string s, out int used)
    {
        s = "";
        used = 0;
        uint length = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (used >= from.Length || shift > 28) return false;
            byte b = from[used++];
            length |= (uint)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) break;
        }
        if (length > (uint)(from.Length - used)) return false;
        // Manifests repeat from event to event; the empty one (Newtonsoft's,
        // and events without an adapter manifest) costs nothing.
        s = length == 0 ? "" : Utf8.GetString(from.Slice(used, (int)length));
        used += (int)length;
        return true;
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
