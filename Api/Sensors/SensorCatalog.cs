using System.Collections.Concurrent;

namespace Kiln.Api.Sensors;

/// <summary>
/// Which sensors exist (and their sites), for validating ingest batches without a query per request.
/// Known sensors are remembered; unknown ones are asked of the database each time, so a sensor
/// created a moment ago is accepted at once.
/// </summary>
internal sealed class SensorCatalog(SensorStore store)
{
    private readonly ConcurrentDictionary<string, string> _sites = new(StringComparer.Ordinal);

    public async Task<IReadOnlyDictionary<string, string>> SitesOfAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var unknown = ids.Where(id => !_sites.ContainsKey(id)).ToList();
        if (unknown.Count > 0)
        {
            foreach (var (id, site) in await store.SitesOfAsync(unknown, cancellationToken))
            {
                _sites[id] = site;
            }
        }

        return _sites;
    }

    public void Remember(Sensor sensor) => _sites[sensor.Id] = sensor.Site;
}
