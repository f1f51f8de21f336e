using System.Runtime.InteropServices;

namespace Akka.Persistence.Cairn.Embedded;

// Mirrors of hosts/libcairn-c/include/cairn/cairn.h and the plugin ABI value
// types it uses (framework/include/cairn/plugin.h). Sequential layout gives
// the same field offsets as the C compiler on every 64-bit target we build.
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CairnBytes
{
    public byte* Data;
    public nuint Size;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CairnError
{
    public byte* Message;
    public nuint Capacity;
}

[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CairnEvent
{
    public uint Size;
    public uint TagCount;
    public CairnBytes Stream;
    public ulong Revision;
    public ulong Position;
    public CairnBytes Type;
    public long TimestampUs;
    public CairnBytes Writer;
    public CairnBytes Metadata;
    public CairnBytes Data;
    public CairnBytes* Tags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CairnAppendResult
{
    public uint Size;
    public ulong FirstRevision;
    public ulong LastRevision;
    public ulong FirstPosition;
    public ulong LastPosition;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CairnSnapshot
{
    public uint Size;
    public CairnBytes Stream;
    public ulong Revision;
    public long TimestampUs;
    public CairnBytes Data;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CairnSnapshotCriteria
{
    public uint Size;
    public ulong MinRevision;
    public ulong MaxRevision;
    public long MinTimestampUs;
    public long MaxTimestampUs;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CairnStreamInfo
{
    public uint Size;
    public CairnBytes Name;
    public ulong Ordinal;
    public ulong HeadRevision;
    public ulong DeletedTo;
}

/// <summary>cairn_leader_info (plugin.h): role, epoch, known, then the node
/// id and client address as NUL-terminated arrays of 64 and 256 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CairnLeaderInfo {
  public const int NodeMax = 64;
  public const int AddressMax = 256;
  public uint Size;
  public uint Role;
  public ulong Epoch;
  public uint Known;
  public fixed byte Node[NodeMax];
  public fixed byte Address[AddressMax];
}

/// <summary>The P/Invoke surface of libcairn-c (file libcairn-c.so beside the assembly).</summary>
internal static unsafe class Native
{
    public const string Library = "cairn-c";
    public const int AbiMajor = 1;
    /// <summary>The oldest C API minor this assembly calls: 1 added cairn_append_events.</summary>
    public const int AbiMinor = 1;
    /// <summary>The minor that added cairn_store_leader; called only when the loaded library has
    /// it.</summary>
    public const int AbiMinorLeader = 2;

    [DllImport(Library)] public static extern uint cairn_c_abi_version();
    [DllImport(Library)] public static extern byte* cairn_c_describe();

    [DllImport(Library)]
    public static extern int cairn_store_open(byte* siteFile, byte** overrides, nuint overrideCount,
        IntPtr* store, CairnError* error);

    [DllImport(Library)] public static extern void cairn_store_close(IntPtr store);
    [DllImport(Library)]
    public static extern int cairn_store_leader(IntPtr store, CairnLeaderInfo* info,
                                                CairnError* error);
    [DllImport(Library)] public static extern int cairn_store_flush(IntPtr store, CairnError* error);

    /// <summary>Events by pointer (C API 1.1): each native event carries its own size.</summary>
    [DllImport(Library)]
    public static extern int cairn_append_events(IntPtr store, CairnBytes stream, int expectedKind,
        ulong expectedRevision, CairnEvent** events, nuint count, CairnAppendResult* result, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_read_stream(IntPtr store, CairnBytes stream, ulong from, ulong to, ulong max,
        delegate* unmanaged<IntPtr, CairnEvent*, int> onEvent, IntPtr context, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_read_tag(IntPtr store, CairnBytes tag, ulong after, ulong max,
        delegate* unmanaged<IntPtr, CairnEvent*, int> onEvent, IntPtr context, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_read_all(IntPtr store, ulong after, ulong max,
        delegate* unmanaged<IntPtr, CairnEvent*, int> onEvent, IntPtr context, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_head_revision(IntPtr store, CairnBytes stream, ulong* revision, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_head_position(IntPtr store, ulong* position, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_delete_to(IntPtr store, CairnBytes stream, ulong revision, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_list_streams(IntPtr store, ulong afterOrdinal, ulong max,
        delegate* unmanaged<IntPtr, CairnStreamInfo*, int> onStream, IntPtr context, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_snapshot_save(IntPtr store, CairnBytes stream, ulong revision, long timestampUs,
        CairnBytes data, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_snapshot_load(IntPtr store, CairnBytes stream, CairnSnapshotCriteria* criteria,
        delegate* unmanaged<IntPtr, CairnSnapshot*, int> onSnapshot, IntPtr context, int* found, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_snapshot_delete(IntPtr store, CairnBytes stream, ulong revision, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_snapshot_delete_matching(IntPtr store, CairnBytes stream,
        CairnSnapshotCriteria* criteria, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_subscribe(IntPtr store, int kind, CairnBytes name, ulong after,
        IntPtr* subscription, CairnError* error);

    [DllImport(Library)]
    public static extern int cairn_subscription_next(IntPtr subscription, nuint max, uint timeoutMs,
        delegate* unmanaged<IntPtr, CairnEvent*, int> onEvent, IntPtr context, nuint* delivered, CairnError* error);

    [DllImport(Library)] public static extern void cairn_subscription_cancel(IntPtr subscription);
    [DllImport(Library)] public static extern void cairn_subscription_close(IntPtr subscription);
}
