//! The rollout's shape: the canary host(s) alone, then batches of `parallel` (DESIGN.md §9).

/// Splits `hosts` (in rollout order) into batches: the first `canary` hosts alone, as one
/// batch, then `parallel` at a time. `parallel` 0 is treated as 1 (the spec refuses it).
pub fn batches<T: Clone>(hosts: &[T], canary: usize, parallel: usize) -> Vec<Vec<T>> {
    let canary = canary.min(hosts.len());
    let (first, rest) = hosts.split_at(canary);
    let mut out = Vec::new();
    if !first.is_empty() {
        out.push(first.to_vec());
    }
    out.extend(rest.chunks(parallel.max(1)).map(<[T]>::to_vec));
    out
}

#[cfg(test)]
mod tests {
    use super::batches;

    fn b(n: usize, canary: usize, parallel: usize) -> Vec<Vec<usize>> {
        batches(&(1..=n).collect::<Vec<_>>(), canary, parallel)
    }

    #[test]
    fn canary_alone_then_parallel_at_a_time() {
        assert_eq!(b(3, 1, 2), vec![vec![1], vec![2, 3]]);
        assert_eq!(b(5, 1, 2), vec![vec![1], vec![2, 3], vec![4, 5]]);
        assert_eq!(b(5, 2, 2), vec![vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(b(3, 0, 1), vec![vec![1], vec![2], vec![3]]);
        assert_eq!(b(3, 0, 3), vec![vec![1, 2, 3]]);
        assert_eq!(b(3, 1, 10), vec![vec![1], vec![2, 3]]);
    }

    #[test]
    fn edge_cases() {
        assert_eq!(b(1, 0, 1), vec![vec![1]]);
        assert_eq!(
            b(2, 5, 1),
            vec![vec![1, 2]],
            "canary beyond the fleet is the fleet"
        );
        assert_eq!(b(0, 1, 1), Vec::<Vec<usize>>::new());
        assert_eq!(b(2, 0, 0), vec![vec![1], vec![2]], "parallel 0 counts as 1");
    }
}
