namespace Kiln.Worker.Ingestion;

/// <summary>
/// The sensors whose latest value in Redis may be older than what PostgreSQL holds, because the cache could not be
/// updated when their readings were stored. Memory is bounded: past <see cref="Capacity"/> names it forgets them and
/// remembers instead that every sensor needs repair, which then walks the sensors table in chunks. The consumer marks,
/// the repair loop takes and, when a repair fails, gives back; both may run at once.
/// </summary>
internal sealed class StaleSensors(int capacity, bool everySensor = false)
{
    private readonly Lock _lock = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private bool _everySensor = everySensor;

    // The walk over every sensor: where it has got to, and which walk that is. A mark during a walk may name a sensor
    // the walk has passed, so it starts the walk again (a new pass); a chunk of an older pass does not move the cursor.
    private string _walkedUpTo = "";
    private long _pass;

    public int Capacity => capacity;

    /// <summary>How many sensors are stale; null when every sensor is.</summary>
    public int? Count
    {
        get
        {
            lock (_lock)
            {
                return _everySensor ? null : _names.Count;
            }
        }
    }

    public bool IsEmpty => Count == 0;

    /// <summary>Marks sensors stale. True when this mark is the one that overflowed the capacity into "every sensor".</summary>
    public bool Mark(IEnumerable<string> sensorIds)
    {
        lock (_lock)
        {
            if (_everySensor)
            {
                _walkedUpTo = "";
                _pass++;
                return false;
            }

            foreach (var id in sensorIds)
            {
                _names.Add(id);
            }

            if (_names.Count <= capacity)
            {
                return false;
            }

            _names.Clear();
            _names.TrimExcess();
            _everySensor = true;
            _walkedUpTo = "";
            _pass++;
            return true;
        }
    }

    /// <summary>Takes up to <paramref name="max"/> named sensors out of the set, or the next step of the walk over every sensor.</summary>
    public StaleChunk? Take(int max)
    {
        lock (_lock)
        {
            if (_everySensor)
            {
                return new StaleChunk([], new WalkStep(_walkedUpTo, _pass));
            }

            if (_names.Count == 0)
            {
                return null;
            }

            var taken = _names.Take(max).ToList();
            _names.ExceptWith(taken);
            return new StaleChunk(taken, null);
        }
    }

    /// <summary>A chunk could not be repaired: its sensors are stale again (a walk simply stays where it was).</summary>
    public void GiveBack(StaleChunk chunk)
    {
        if (chunk.Walk is null)
        {
            Mark(chunk.SensorIds);
        }
    }

    /// <summary>
    /// A step of the walk was repaired up to <paramref name="lastSensorId"/>; <paramref name="end"/> when the sensors
    /// table has no more. Ignored when the walk has started again since that step was taken.
    /// </summary>
    public void Walked(WalkStep step, string lastSensorId, bool end)
    {
        lock (_lock)
        {
            if (!_everySensor || step.Pass != _pass)
            {
                return;
            }

            _walkedUpTo = lastSensorId;
            if (end)
            {
                _everySensor = false;
                _walkedUpTo = "";
            }
        }
    }
}

/// <summary>What one repair step covers: named sensors, or the next sensors after <see cref="WalkStep.After"/> in the sensors table.</summary>
internal sealed record StaleChunk(IReadOnlyList<string> SensorIds, WalkStep? Walk);

internal sealed record WalkStep(string After, long Pass);
