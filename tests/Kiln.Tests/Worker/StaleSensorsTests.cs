using Kiln.Worker.Ingestion;

namespace Kiln.Tests.Worker;

public sealed class StaleSensorsTests
{
    [Fact]
    public void Marked_sensors_are_taken_in_chunks_once_each()
    {
        var stale = new StaleSensors(capacity: 10);
        stale.Mark(["a", "b", "c"]);
        stale.Mark(["b", "d"]);

        Assert.Equal(4, stale.Count);
        var first = stale.Take(3)!;
        var second = stale.Take(3)!;
        Assert.Null(first.Walk);
        Assert.Equal(["a", "b", "c", "d"], first.SensorIds.Concat(second.SensorIds).Order());
        Assert.Null(stale.Take(3));
        Assert.True(stale.IsEmpty);
    }

    [Fact]
    public void A_chunk_that_could_not_be_repaired_is_stale_again()
    {
        var stale = new StaleSensors(capacity: 10);
        stale.Mark(["a", "b"]);
        var chunk = stale.Take(10)!;
        stale.Mark(["c"]); // marked again while the chunk was out

        stale.GiveBack(chunk);

        Assert.Equal(3, stale.Count);
    }

    [Fact]
    public void Past_its_capacity_it_forgets_the_names_and_walks_every_sensor()
    {
        var stale = new StaleSensors(capacity: 3);
        Assert.False(stale.Mark(["a", "b", "c"]));

        Assert.True(stale.Mark(["d"]));
        Assert.False(stale.Mark(["e"])); // reported once, when it happens

        Assert.Null(stale.Count);
        var step = stale.Take(2)!;
        Assert.Equal(new WalkStep("", step.Walk!.Pass), step.Walk);
        stale.Walked(step.Walk, "b", end: false);
        var next = stale.Take(2)!.Walk!;
        Assert.Equal("b", next.After);
        stale.Walked(next, "c", end: true);
        Assert.True(stale.IsEmpty);
        Assert.Null(stale.Take(2));
    }

    [Fact]
    public void A_mark_during_a_walk_starts_the_walk_again()
    {
        var stale = new StaleSensors(capacity: 100, everySensor: true);
        var step = stale.Take(2)!.Walk!;
        stale.Walked(step, "m", end: false);
        var later = stale.Take(2)!.Walk!;

        stale.Mark(["a"]); // "a" is behind the walk: only a new walk reaches it
        stale.Walked(later, "z", end: true);

        Assert.Null(stale.Count);
        Assert.Equal("", stale.Take(2)!.Walk!.After);
    }
}
