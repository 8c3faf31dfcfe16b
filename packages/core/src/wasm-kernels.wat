;; flatmin's WebAssembly kernels for the tfjs wasm backend. They work on the backend's own memory
;; (imported, never grown or written outside the buffers they are given): the byte offsets are
;; those of tensors on the backend's heap. Compiled by scripts/wasm-kernels.mjs into
;; src/wasm-kernels-binary.ts (two builds: this text, and the same with a shared memory for the
;; threaded backend); a test checks that the committed bytes are this text's.
(module
  (import "env" "memory" (memory 1))
  ;; Σ a[i]·b[i] over n float32 values at byte offsets a and b, in float64 (each value promoted,
  ;; then multiplied): four f64x2 accumulators over 8 values per iteration, then the tail.
  (func (export "dot") (param $a i32) (param $b i32) (param $n i32) (result f64)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128)
    (local $end i32) (local $last i32) (local $sum f64)
    (local.set $end (i32.add (local.get $a) (i32.shl (i32.and (local.get $n) (i32.const -8)) (i32.const 2))))
    (local.set $last (i32.add (local.get $a) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $eight
        (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
        (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul
          (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $a)))
          (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $b))))))
        (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul
          (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $a)))
          (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $b))))))
        (local.set $s2 (f64x2.add (local.get $s2) (f64x2.mul
          (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $a)))
          (f64x2.promote_low_f32x4 (v128.load64_zero offset=16 (local.get $b))))))
        (local.set $s3 (f64x2.add (local.get $s3) (f64x2.mul
          (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $a)))
          (f64x2.promote_low_f32x4 (v128.load64_zero offset=24 (local.get $b))))))
        (local.set $a (i32.add (local.get $a) (i32.const 32)))
        (local.set $b (i32.add (local.get $b) (i32.const 32)))
        (br $eight)))
    (local.set $s0 (f64x2.add (f64x2.add (local.get $s0) (local.get $s1)) (f64x2.add (local.get $s2) (local.get $s3))))
    (local.set $sum (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0))))
    (block $tailDone
      (loop $tail
        (br_if $tailDone (i32.ge_u (local.get $a) (local.get $last)))
        (local.set $sum (f64.add (local.get $sum) (f64.mul
          (f64.promote_f32 (f32.load (local.get $a)))
          (f64.promote_f32 (f32.load (local.get $b))))))
        (local.set $a (i32.add (local.get $a) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 4)))
        (br $tail)))
    (local.get $sum))
  ;; out[j] = Σ_i x[i·cols + j] (squared first when $square ≠ 0) for a rows × cols float32 matrix at
  ;; byte offset x, into cols float32 values at byte offset out: float32 sums, row by row, four
  ;; columns at a time.
  (func (export "columnSums") (param $x i32) (param $rows i32) (param $cols i32) (param $out i32) (param $square i32)
    (local $j i32) (local $row i32) (local $vecEnd i32) (local $v v128) (local $f f32) (local $o i32)
    (memory.fill (local.get $out) (i32.const 0) (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $vecEnd (i32.and (local.get $cols) (i32.const -4)))
    (block $rowsDone
      (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $vecDone
          (loop $vec
            (br_if $vecDone (i32.ge_u (local.get $j) (local.get $vecEnd)))
            (local.set $v (v128.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2)))))
            (if (local.get $square) (then (local.set $v (f32x4.mul (local.get $v) (local.get $v)))))
            (local.set $o (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))))
            (v128.store (local.get $o) (f32x4.add (v128.load (local.get $o)) (local.get $v)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec)))
        (block $restDone
          (loop $rest
            (br_if $restDone (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $f (f32.load (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2)))))
            (if (local.get $square) (then (local.set $f (f32.mul (local.get $f) (local.get $f)))))
            (local.set $o (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 2))))
            (f32.store (local.get $o) (f32.add (f32.load (local.get $o)) (local.get $f)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $rest)))
        (local.set $x (i32.add (local.get $x) (i32.shl (local.get $cols) (i32.const 2))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rowLoop))))
;; The ziggurat's fast path for standard-normal draws (the generator of normal.ts, whose tables and
;; slow path stay in JavaScript): n draws into the float32 values at byte offset out, from the sfc32
;; state at byte offset state (four i32, read, then written back). Per draw: 32 bits, 8 for the layer
;; i, 24 for the signed magnitude j; |j| < K[i] (i32 at byte offset K) gives j·W[i] (f64 at byte
;; offset W) rounded to float32; any other draw keeps its 32 bits in its place and its index (from
;; 0) is appended to the i32 list at byte offset list. Returns the list's length.
  (func (export "normalFast") (param $out i32) (param $n i32) (param $state i32) (param $K i32) (param $W i32) (param $list i32) (result i32)
    (local $a i32) (local $b i32) (local $c i32) (local $d i32) (local $t i32) (local $i i32) (local $j i32)
    (local $end i32) (local $slow i32) (local $index i32)
    (local.set $a (i32.load (local.get $state)))
    (local.set $b (i32.load offset=4 (local.get $state)))
    (local.set $c (i32.load offset=8 (local.get $state)))
    (local.set $d (i32.load offset=12 (local.get $state)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $draw
        (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
        (local.set $t (i32.add (i32.add (local.get $a) (local.get $b)) (local.get $d)))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))
        (local.set $a (i32.xor (local.get $b) (i32.shr_u (local.get $b) (i32.const 9))))
        (local.set $b (i32.add (local.get $c) (i32.shl (local.get $c) (i32.const 3))))
        (local.set $c (i32.add (i32.rotl (local.get $c) (i32.const 21)) (local.get $t)))
        (local.set $i (i32.shl (i32.and (local.get $t) (i32.const 255)) (i32.const 2)))
        (local.set $j (i32.shr_s (local.get $t) (i32.const 8)))
        (if (i32.lt_s
              (select (i32.sub (i32.const 0) (local.get $j)) (local.get $j) (i32.lt_s (local.get $j) (i32.const 0)))
              (i32.load (i32.add (local.get $K) (local.get $i))))
          (then
            (f32.store (local.get $out) (f32.demote_f64 (f64.mul (f64.convert_i32_s (local.get $j))
              (f64.load (i32.add (local.get $W) (i32.shl (local.get $i) (i32.const 1))))))))
          (else
            (i32.store (i32.add (local.get $list) (i32.shl (local.get $slow) (i32.const 2))) (local.get $index))
            (local.set $slow (i32.add (local.get $slow) (i32.const 1)))
            (i32.store (local.get $out) (local.get $t))))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (local.set $index (i32.add (local.get $index) (i32.const 1)))
        (br $draw)))
    (i32.store (local.get $state) (local.get $a))
    (i32.store offset=4 (local.get $state) (local.get $b))
    (i32.store offset=8 (local.get $state) (local.get $c))
    (i32.store offset=12 (local.get $state) (local.get $d))
    (local.get $slow))
)
