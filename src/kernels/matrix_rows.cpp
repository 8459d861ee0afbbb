#include "kernels/matrix_rows.h"

#include <cstdint>
#include <string>

#include "fastwave/error.h"

namespace fastwave::kernels {

template <typename T>
MatrixRows<T>::MatrixRows(int cols, std::vector<std::span<const T>> blocks) : cols_(cols), blocks_(std::move(blocks)) {
  if (cols <= 0) throw Error("matrix rows: " + std::to_string(cols) + " columns");
  size_t rows = 0;
  for (const auto& block : blocks_) {
    if (block.size() % size_t(cols) != 0) {
      throw Error("matrix rows: a block of " + std::to_string(block.size()) + " values is not whole rows of " +
                  std::to_string(cols));
    }
    rows += block.size() / size_t(cols);
  }
  if (rows > size_t(INT32_MAX)) throw Error("matrix rows: too many rows");
  rows_ = static_cast<int>(rows);
}

template <typename T>
MatrixRows<T>::MatrixRows(int rows, int cols, DecodeRow decode) : rows_(rows), cols_(cols), decode_(std::move(decode)) {
  if (rows < 0 || cols <= 0 || !decode_) throw Error("matrix rows: bad decoded matrix");
}

template <typename T>
const T* MatrixRows<T>::row(int r, std::span<T> scratch) const {
  if (r < 0 || r >= rows_) throw Error("matrix rows: row " + std::to_string(r) + " of " + std::to_string(rows_));
  if (decode_) {
    if (scratch.size() < size_t(cols_)) throw Error("matrix rows: decoding needs a row of scratch");
    decode_(r, scratch.first(cols_));
    return scratch.data();
  }
  // Linear in the number of blocks, which is one or two.
  size_t first = size_t(r) * cols_;
  for (const auto& block : blocks_) {
    if (first < block.size()) return block.data() + first;
    first -= block.size();
  }
  throw Error("matrix rows: row past the blocks");  // unreachable: rows_ counts the blocks
}

// Every element type a packer reads: weights in f32, bf16 and int8 codes.
template class MatrixRows<float>;
template class MatrixRows<uint16_t>;
template class MatrixRows<int8_t>;

}  // namespace fastwave::kernels
