using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Cairn.Embedded;
using Xunit;

namespace Akka.Persistence.Cairn.Tests;

/// <summary>An embedded store that is a replica (the test-role-file
/// replication fixture, built beside libcairn-c: its role, epoch and leader
/// come from a file) refuses writes with <see cref="CairnNotLeaderException"/>
/// carrying the leader it knows (cairn_store_leader, C API 1.2).</summary>
[Trait("Category", "EmbeddedOnly")]
public sealed class EmbeddedNotLeaderSpec : IDisposable {
  private readonly string _dir =
      Path.Combine(Path.GetTempPath(), "cairn-dotnet-tests", Guid.NewGuid().ToString("N"));

  public EmbeddedNotLeaderSpec() => Directory.CreateDirectory(_dir);

  public void Dispose() => Directory.Delete(_dir, true);

  /// <summary>CAIRN_FIXTURE_DIR (scripts/test.d/50-dotnet.sh sets it), else
  /// the fixtures folder beside CAIRN_NATIVE_DIR, else the release preset's.</summary>
  private static string FixtureDir() {
    var dir = Environment.GetEnvironmentVariable("CAIRN_FIXTURE_DIR");
    if (string.IsNullOrEmpty(dir)) {
      var native = Environment.GetEnvironmentVariable("CAIRN_NATIVE_DIR");
      dir = !string.IsNullOrEmpty(native)
                ? Path.Combine(native, "..", "fixtures")
                : Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "..", "..",
                               "build", "release", "fixtures");
    }
    var replication = Path.GetFullPath(Path.Combine(dir, "replication"));
    if (!File.Exists(Path.Combine(replication, "libcairn-replication-test-role-file.so")))
      throw new InvalidOperationException(
          $"the test-role-file fixture is not in {replication}: build the CMake target " +
          "fixture-replication-role-file, or point CAIRN_FIXTURE_DIR at the build's fixtures folder");
    return replication;
  }

  [Fact]
  public async Task A_replica_refuses_an_append_naming_its_leader() {
    var roleFile = Path.Combine(_dir, "role");
    await File.WriteAllTextAsync(roleFile, "replica 3 a 127.0.0.1:7601\n");
    using var store = EmbeddedStore.Open(null, new[] {
      "storage.plugin=memory",
      $"store.plugin-dirs={FixtureDir()}",
      "replication.plugin=test-role-file",
      $"replication.role-file={roleFile}",
    });
    var refused = await Assert.ThrowsAsync<CairnNotLeaderException>(
        () => store.AppendAsync(
            "s", ExpectedRevision.Any,
            new EventData[] { new("t", new byte[] { 1 }, ReadOnlyMemory<byte>.Empty, "w",
                                  Array.Empty<string>()) }));
    Assert.Equal(CairnStatus.NotLeader, refused.Status);
    Assert.Contains("127.0.0.1:7601", refused.Message);
    Assert.Equal(new LeaderHint(true, "a", "127.0.0.1:7601", 3), refused.Leader);
    Assert.Equal(0UL, await store.HeadPositionAsync());
  }

  [Fact]
  public void A_store_without_replication_leads_itself() {
    using var store = EmbeddedStore.Open(null, new[] { "storage.plugin=memory" });
    Assert.Equal(new LeaderHint(true, "", "", 0), store.Leader());
  }
}
