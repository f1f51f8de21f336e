using Akka.Persistence.Cairn.Client;
using Akka.Persistence.Cairn.Embedded;
using Akka.Persistence.Cairn.Remote;

namespace Akka.Persistence.Cairn;

/// <summary>
/// One open store per configuration per process, shared by the journal,
/// snapshot store and read journals that name it (an embedded store's folder
/// can be open only once), closed when the last of them lets go.
/// </summary>
public static class CairnStores
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, Entry> Open = new();

    private sealed class Entry
    {
        public required ICairnStore Store;
        public int Users;
    }

    /// <summary>A lease on the store for <paramref name="settings"/>; dispose it to let go.</summary>
    public sealed class Lease : IDisposable
    {
        private readonly string _key;
        private int _released;

        internal Lease(string key, ICairnStore store)
        {
            _key = key;
            Store = store;
        }

        public ICairnStore Store { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0) return;
            ICairnStore? toClose = null;
            lock (Gate)
            {
                var entry = Open[_key];
                if (--entry.Users == 0)
                {
                    Open.Remove(_key);
                    toClose = entry.Store;
                }
            }
            toClose?.Dispose();
        }
    }

    public static Lease Acquire(CairnSettings settings)
    {
        var key = settings.StoreKey;
        lock (Gate)
        {
            if (!Open.TryGetValue(key, out var entry))
            {
                ICairnStore store = settings.Mode == CairnMode.Embedded
                    ? EmbeddedStore.Open(settings.SiteFile, settings.EmbeddedOverrides())
                    : new ReconnectingRemoteStore(settings); // connects on first use, asynchronously
                entry = new Entry { Store = store };
                Open[key] = entry;
            }
            entry.Users++;
            return new Lease(key, entry.Store);
        }
    }
}
