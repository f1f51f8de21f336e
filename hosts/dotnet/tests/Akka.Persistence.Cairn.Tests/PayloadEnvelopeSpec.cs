using System.Text;
using Xunit;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>The metadata header every stored event carries: its bytes never
/// change (stores written by earlier versions hold them), and bytes that are
/// not ours are refused naming the event.</summary>
public sealed class PayloadEnvelopeSpec
{
    // The layout as the first version wrote it, with BinaryWriter.
    private static byte[] AsFirstWritten(PayloadEnvelope.Facts facts)
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write((byte)1);
            w.Write(facts.SerializerId);
            w.Write(facts.SerializerManifest);
            w.Write(facts.PersistentManifest);
            w.Write(facts.TimestampTicks);
        }
        return stream.ToArray();
    }

    private static readonly PayloadEnvelope.Facts[] Cases =
    {
        new(1, "", "", 638_000_000_000_000_000),
        new(-7, "OrderPlaced", "v2", -1),
        // Non-ASCII, and longer than 127 bytes (a two-byte length prefix).
        new(int.MaxValue, "Bestellung-ü€" + new string('m', 200), "é", long.MaxValue),
    };

    [Theory]
    [InlineData(0), InlineData(1), InlineData(2)]
    public void Facts_are_written_byte_for_byte_as_the_first_version_wrote_them(int example)
    {
        var facts = Cases[example];
        Assert.Equal(AsFirstWritten(facts), PayloadEnvelope.EncodeFacts(facts));
    }

    [Theory]
    [InlineData(0), InlineData(1), InlineData(2)]
    public void Facts_the_first_version_wrote_read_back_unchanged(int example)
    {
        var facts = Cases[example];
        Assert.Equal(facts, PayloadEnvelope.DecodeEventFacts(AsFirstWritten(facts), "s", 1));
    }

    [Fact]
    public void Metadata_cut_short_is_refused_naming_the_event()
    {
        var bytes = PayloadEnvelope.EncodeFacts(new PayloadEnvelope.Facts(1, "OrderPlaced", "", 5));
        for (int length = 0; length < bytes.Length; length++)
        {
            var ex = Assert.Throws<InvalidDataException>(() =>
                PayloadEnvelope.DecodeEventFacts(bytes.AsSpan(0, length), "orders-1", 42));
            Assert.Contains("event orders-1/42", ex.Message);
        }
    }

    [Fact]
    public void Another_format_byte_is_refused()
    {
        var bytes = PayloadEnvelope.EncodeFacts(new PayloadEnvelope.Facts(1, "", "", 5));
        bytes[0] = 2;
        var ex = Assert.Throws<InvalidDataException>(() => PayloadEnvelope.DecodeFacts(bytes, "snapshot s/1"));
        Assert.Contains("format 2", ex.Message);
    }
}
