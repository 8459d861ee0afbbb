// The rows of a matrix as the packers read them, one row at a time: either blocks of whole
// rows stacked in order (a layer's filter rows, then its gate rows), each read where it
// lies, or rows decoded on demand (codes stored in fewer bits than the kernels read). A
// matrix stacked from several tensors thus packs straight from the model's bytes, with
// no stacked or unpacked copy of the whole matrix in between.
#pragma once

#include <functional>
#include <span>
#include <vector>

namespace fastwave::kernels {

template <typename T>
class MatrixRows {
 public:
  // Writes row r (cols() values) into `out`.
  using DecodeRow = std::function<void(int r, std::span<T> out)>;

  // No rows: an absent bias.
  MatrixRows() = default;
  // Row-major blocks of whole rows of `cols` values, stacked in order; throws
  // fastwave::Error if a block is not whole rows. The blocks must outlive this object.
  MatrixRows(int cols, std::vector<std::span<const T>> blocks);
  // `rows` rows, each decoded when it is read.
  MatrixRows(int rows, int cols, DecodeRow decode);

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  bool empty() const { return rows_ == 0; }
  // Row r: where it lies in its block, or decoded into `scratch` (cols() values).
  const T* row(int r, std::span<T> scratch) const;
  // Row r of a matrix of blocks (no decoding, so no scratch).
  const T* row(int r) const { return row(r, {}); }

 private:
  int rows_ = 0, cols_ = 0;
  std::vector<std::span<const T>> blocks_;
  DecodeRow decode_;
};

}  // namespace fastwave::kernels
